"""A dependency-free progress bar with ETA on stderr, for long fetches.

On a terminal it redraws one line (`\\r`) at most every `min_interval` seconds; elsewhere (CI logs,
pipes) it prints a plain line at each 10% step, so logs stay short. The ETA is the elapsed time
per unit times the units left, which is good enough once a few windows have finished.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

from ..textkit import format_duration

BAR_WIDTH = 24


class Progress:
    """Counts units of work (request windows) and candles; `close()` prints the final line."""

    def __init__(self, total: int, *, label: str, stream: TextIO | None = None,
                 enabled: bool = True, min_interval: float = 0.2) -> None:
        self.total = max(0, total)
        self.label = label
        self.stream = stream or sys.stderr
        self.wanted = enabled
        self.enabled = enabled and self.total > 0
        self.min_interval = min_interval
        self.done = 0
        self.candles = 0
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._last_decile = -1
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def start(self, total: int) -> None:
        """Set the total once it is known; a single unit of work gets no bar."""
        self.total = max(0, total)
        self.enabled = self.wanted and self.total > 1
        self._start = time.monotonic()

    def advance(self, units: int = 1, *, candles: int = 0) -> None:
        self.done = min(self.total, self.done + units)
        self.candles += candles
        if self.enabled:
            self._maybe_draw()

    def line(self) -> str:
        elapsed = time.monotonic() - self._start
        share = self.done / self.total if self.total else 1.0
        filled = int(share * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        eta_text = format_duration(eta) if eta is not None else "?"
        return (f"{self.label} [{bar}] {share:4.0%} {self.done}/{self.total} windows, "
                f"{self.candles:,} candles, {format_duration(elapsed)} elapsed, ETA {eta_text}")

    def _maybe_draw(self) -> None:
        now = time.monotonic()
        if self._tty:
            if now - self._last_draw >= self.min_interval or self.done == self.total:
                self.stream.write("\r" + self.line())
                self.stream.flush()
                self._last_draw = now
            return
        decile = self.done * 10 // self.total
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()
