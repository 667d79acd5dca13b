"""A Ctrl-C that Python swallows (raised inside a weakref callback, where it cannot propagate) is
not lost: the next sweep stops at its first safe point, and nothing is printed as a traceback."""
from __future__ import annotations

import io
import sys
import weakref

import pytest

from tradebot.optimize import interrupt


def swallowed_ctrl_c() -> None:
    """What the default SIGINT handler does when the signal lands in a weakref callback: Python
    hands the KeyboardInterrupt to sys.unraisablehook instead of raising it."""
    class Thing:
        pass

    def callback(_ref: object) -> None:
        raise KeyboardInterrupt

    thing = Thing()
    ref = weakref.ref(thing, callback)
    del thing
    assert ref() is None


def test_a_swallowed_ctrl_c_stops_the_next_sweep_without_a_traceback(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    monkeypatch.setattr(interrupt, "_previous_hook", [])
    interrupt.keep_lost_presses()
    interrupt.keep_lost_presses()  # installing twice keeps one hook
    assert interrupt._previous_hook == [sys.__unraisablehook__]
    swallowed_ctrl_c()
    assert "Exception ignored" not in capsys.readouterr().err
    said = io.StringIO()
    with interrupt.stop_on_ctrl_c(said):
        assert interrupt.pressed()
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    assert said.getvalue() == interrupt.STOPPING
    with interrupt.stop_on_ctrl_c(io.StringIO()):  # the press was used up by that sweep
        assert not interrupt.pressed()
        interrupt.check()


def test_other_unraisable_exceptions_are_still_reported(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    monkeypatch.setattr(interrupt, "_previous_hook", [])
    interrupt.keep_lost_presses()

    class Thing:
        pass

    def callback(_ref: object) -> None:
        raise ValueError("a real bug")

    thing = Thing()
    _ref = weakref.ref(thing, callback)
    del thing
    err = capsys.readouterr().err
    assert "Exception ignored" in err and "a real bug" in err
    with interrupt.stop_on_ctrl_c(io.StringIO()):
        assert not interrupt.pressed()
