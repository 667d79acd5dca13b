"""A progress line for sweeps on stderr: trials done, the best objective so far, rate and ETA.

On a terminal the line redraws itself in place (carriage return); otherwise (a pipe, CI, a log
file) it prints a plain line at most every `quiet_interval` seconds, so logs stay short.
The clock is injectable so tests can check the ETA arithmetic.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, TextIO

from ..textkit import format_duration

BAR_WIDTH = 24


@dataclass
class Progress:
    """Counts finished trials against `total` and renders the line."""

    total: int | None
    metric: str
    label: str = ""  # printed first, e.g. "fold 2: "
    stream: TextIO | None = None  # None: sys.stderr as it is when the sweep starts
    enabled: bool = True
    clock: Callable[[], float] = time.monotonic
    tty_interval: float = 0.1
    quiet_interval: float = 5.0

    def __post_init__(self) -> None:
        self.stream = self.stream or sys.stderr
        self.done = 0
        self.resumed = 0  # trials recorded by earlier runs of a resumed study
        self.best: float | None = None
        self.started = self.clock()
        self._last_draw = -1e9
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, finished: int, best: float | None) -> None:
        """`finished` more trials are done; `best` is the best objective so far (None: none yet)."""
        self.done += finished
        self.best = best
        now = self.clock()
        interval = self.tty_interval if self._tty else self.quiet_interval
        if self.enabled and (now - self._last_draw >= interval or self.done == self.total):
            self._last_draw = now
            self._write(self.line(now))

    def resume(self, recorded: int, best: float | None) -> None:
        """A resumed study: `recorded` trials were done by earlier runs (they count towards the
        total, not towards this run's rate)."""
        self.done += recorded
        self.resumed += recorded
        self.best = best
        if self.enabled:
            self._write(self.line())

    def note(self, text: str) -> None:
        """A message on its own line (the progress line is drawn again below it on a terminal)."""
        if self._tty:
            self.stream.write("\r" + text + "\x1b[K\n" + self.line())
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def rate(self, now: float | None = None) -> float:
        elapsed = (self.clock() if now is None else now) - self.started
        return (self.done - self.resumed) / elapsed if elapsed > 0 else 0.0

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left at the rate so far (None before the first trial or without a total)."""
        rate = self.rate(now)
        if self.total is None or rate <= 0:
            return None
        return max(0, self.total - self.done) / rate

    def line(self, now: float | None = None) -> str:
        best = "-" if self.best is None else f"{self.best:.4g}"
        count = f"{self.done:,}/{self.total:,}" if self.total else f"{self.done:,}"
        bar = ""
        if self.total:
            filled = int(BAR_WIDTH * min(1.0, self.done / self.total))
            bar = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "] "
        eta = self.eta(now)
        left = "?" if eta is None else format_duration(eta)
        return (f"{self.label}{bar}{count} trials | best {self.metric} {best} | {self.rate(now):,.1f}/s"
                f" | ETA {left}")

    def close(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, line: str) -> None:
        if self._tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
