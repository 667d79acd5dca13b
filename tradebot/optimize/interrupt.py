"""Ctrl-C during a sweep: noted at once, acted on where it is safe.

A KeyboardInterrupt raised at an arbitrary point can land inside a write to the study storage (a
claim never given back, a trial half recorded) or inside the process pool's bookkeeping, and the
run then ends with no report. So while `stop_on_ctrl_c` is active the first Ctrl-C only sets a
flag and says so; the sweep checks the flag between batches (`check`) and stops there, keeping
what finished. A batch evaluated in this process (`--jobs 1`) shares nothing, so it is cut short
at once (`cut_short`). A second Ctrl-C quits immediately, without the report; claims left behind
are then found abandoned by the next run (claims.py).

Only the main thread may set signal handlers; elsewhere (the Python API in a thread) Ctrl-C keeps
its usual meaning.

A Ctrl-C before the sweep's handler is installed raises KeyboardInterrupt wherever the main thread
is. If that is inside a callback Python cannot raise from (a weakref or garbage-collector callback,
e.g. importlib's module-lock cleanup while the workers start), Python prints "Exception ignored in
…" with a traceback and the press is lost: the sweep ran on to its end. `keep_lost_presses` (the
CLI installs it first thing) records such a press instead, silently, and the sweep honours it as
soon as it starts.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, TextIO

STOPPING = "\nCtrl-C: stopping after the batches running now (press it again to quit without the report)\n"


class _State:
    active = False  # a handler of ours is installed
    pressed = False  # Ctrl-C was pressed while it was
    cutting = False  # inside `cut_short`: Ctrl-C raises at once
    lost = False  # a Ctrl-C that Python swallowed in a callback before a sweep began


_state = _State()


@contextmanager
def stop_on_ctrl_c(stream: TextIO | None = None) -> Iterator[None]:
    """Within this block, Ctrl-C stops the sweep at its next safe point (see the module docstring)."""
    if _state.active or threading.current_thread() is not threading.main_thread():
        yield
        return
    out = stream or sys.stderr

    def handler(signum: int, frame: object) -> None:
        if _state.pressed or _state.cutting:
            _state.pressed = True
            raise KeyboardInterrupt
        _state.pressed = True
        out.write(STOPPING)
        out.flush()

    previous = signal.signal(signal.SIGINT, handler)
    _state.active, _state.pressed, _state.cutting = True, _state.lost, False
    if _state.lost:
        _state.lost = False
        out.write(STOPPING)
        out.flush()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _state.active = _state.cutting = False


def pressed() -> bool:
    """Whether Ctrl-C was pressed in the current (or the last) `stop_on_ctrl_c` block."""
    return _state.pressed


def check() -> None:
    """Stop here (KeyboardInterrupt) if Ctrl-C was pressed: called between batches."""
    if _state.active and _state.pressed:
        raise KeyboardInterrupt


@contextmanager
def cut_short() -> Iterator[None]:
    """Work that Ctrl-C may interrupt at any point (nothing shared is written inside)."""
    check()
    before, _state.cutting = _state.cutting, True
    try:
        yield
    finally:
        _state.cutting = before


_previous_hook: list = []  # the hook ours replaced (sys.__unraisablehook__ unless someone else's)


def keep_lost_presses() -> None:
    """Record a KeyboardInterrupt that Python could not raise (see the module docstring) instead of
    printing it as "Exception ignored"; any other unraisable exception is reported as before."""
    if getattr(sys.unraisablehook, "__name__", "") == _record_lost_press.__name__:
        return
    _previous_hook.append(sys.unraisablehook)
    sys.unraisablehook = _record_lost_press


def _record_lost_press(unraisable: sys.UnraisableHookArgs) -> None:
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        _state.lost = True
        return
    (_previous_hook[-1] if _previous_hook else sys.__unraisablehook__)(unraisable)
