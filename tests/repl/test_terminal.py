"""End to end: the real `tradebot repl` in a real terminal (tmux), typed at with send-keys, read
back with capture-pane. Skipped when tmux is not installed (CI installs it: see .ci/run)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
TMUX = shutil.which("tmux")


class Terminal:
    """A tmux server of our own (its own socket), one window running one command."""

    def __init__(self, command: list[str], *, cwd: Path) -> None:
        self.socket = f"tradebot-test-{os.getpid()}"
        self._tmux("new-session", "-d", "-s", "repl", "-x", "110", "-y", "40", "-c", str(cwd),
                   " ".join(_quote(part) for part in command))

    def _tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=30)

    def type(self, text: str, *keys: str) -> None:
        if text:
            self._tmux("send-keys", "-t", "repl", "-l", text)
        for key in keys:
            self._tmux("send-keys", "-t", "repl", key)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-t", "repl", "-S", "-").stdout

    def wait_for(self, text: str, *, after: str | None = None, timeout: float = 30) -> str:
        """Wait until `text` shows — below the last `after` when given, so that text already on the
        screen from an earlier answer (the banner shows the last timestamp too) cannot satisfy it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            tail = screen if after is None else screen.rpartition(after)[2] if after in screen else ""
            if text in tail:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"`{text}` never appeared; the screen shows:\n{self.screen()}")

    def alive(self) -> bool:
        return self._tmux("has-session", "-t", "repl").returncode == 0

    def close(self) -> None:
        self._tmux("kill-server")


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


@pytest.fixture
def terminal(tmp_path):
    if TMUX is None:
        pytest.skip("tmux is not installed (apt-get install tmux) — the end-to-end terminal test needs it")
    command = [sys.executable, "-m", "tradebot", "repl", "--history", str(tmp_path / "history")]
    term = Terminal(command, cwd=tmp_path)
    yield term
    term.close()


def test_a_session_at_the_real_prompt(terminal, tmp_path):
    terminal.wait_for("tbs>")
    assert "5,000 bars" in terminal.screen()

    terminal.type("r = at")  # the completion menu pops up with the registry's signature and doc
    terminal.wait_for("atr(length: length = 14")
    terminal.type("r(14)", "Enter")
    terminal.wait_for("defined r (number series)")

    terminal.type("m = sma(close,", "Enter")  # an open bracket continues on the next line
    terminal.wait_for("...", after="m = sma(close,")
    terminal.type("20)", "Enter")
    terminal.wait_for("defined m (number series)")

    terminal.type("y = rsi(clse, 14)", "Enter")
    screen = terminal.wait_for("did you mean `close`?")
    assert "    1 | y = rsi(clse, 14)\n      |         ^^^^" in screen

    terminal.type("close - m", "Enter")
    terminal.wait_for("2018-02-07 15:00", after="tbs> close - m")  # the table ends at the last bar
    terminal.wait_for("tbs>", after="2018-02-07 15:00")  # and the prompt is back

    terminal.type("zzz", "C-c")  # Ctrl-C drops the line, the session stays
    terminal.type("enter long when close crosses above m", "Enter")
    terminal.wait_for("rule added: enter long")
    terminal.type(":run", "Enter")
    terminal.wait_for("Total return")
    assert "zzz" not in terminal.screen().split("rule added")[0].splitlines()[-1]

    terminal.type("", "C-d")
    deadline = time.monotonic() + 15
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not terminal.alive(), "Ctrl-D should end the REPL"
    assert "m = sma(close," in (tmp_path / "history").read_text(encoding="utf-8")
