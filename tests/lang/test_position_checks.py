"""Where position state may not be read: each misuse is an error at its place, with the reason
(lang/position_check.py), all of them at once; and what may read it compiles."""
from __future__ import annotations

import pytest

from tradebot.errors import UsageError
from tradebot.pipeline import compile_source

from .test_diagnostics import errors


@pytest.mark.parametrize("line, message, hint, column", [
    ("a = sma(open_profit, 5)", "`sma(...)` cannot read position state (`open_profit`)", "avg[1] * 0.8", 5),
    ("a = (close > entry_price) @ 4h", "`@ 4h` cannot read position state (`entry_price`)",
     "higher-timeframe bars are built before the run", 5),
    ("a = highest_since_entry(open_profit)", "`highest_since_entry(...)` cannot read position state",
     "a column computed before the run", 5),
    ("a = highest(high, bars_since_entry + 1)", "`highest(...)` cannot read position state",
     "`highest_since_entry(x)`", 5),
    ("a = (close - entry_price) of BTCUSDT", "`of BTCUSDT` cannot read position state",
     "computed on its own bars before the run", 5),
    ("a = (bars_since_entry > 2) for 3 bars", "`for … bars` cannot read position state", "avg[1]", 5),
    ('a = last_exit_reason == "stopp"', '"stopp" is not an exit reason', "did you mean `stop`", 25),
    ("break_even long open_profit / 100", "a break-even trigger cannot read position state",
     "fixed when the entry order is placed", 1),
    ("enter long at limit entry_price - 1", "an entry order's price cannot read position state",
     "fixed when the entry order is placed", 1),
    ("param n = entry_price", "a param's default, bounds and choices are plain numbers", None, 11),
    ("capital open_profit", "`capital` must be a constant", None, 9),
])
def test_misuse_is_an_error_with_the_reason(line: str, message: str, hint: str | None, column: int) -> None:
    source = f"{line}\nenter long when close > open\nexit long when a\n" if line.startswith("a =") else \
        f"{line}\nenter long when close > open\n"
    found = [d for d in errors(source).diagnostics if message in d.message]
    assert found, [d.message for d in errors(source).diagnostics]
    assert (found[0].span.line, found[0].span.column) == (1, column)
    if hint:
        assert hint in (found[0].hint or "")


def test_size_risk_with_a_stop_reading_position_state() -> None:
    diags = errors("size risk 1% to stop\nstop_loss long at entry_price - 1\nenter long when close > open\n").diagnostics
    assert any("`size risk` sizes an entry from its stop" in d.message for d in diags)


def test_a_moving_target_beside_a_ladder_is_refused() -> None:
    # The engine moves the target of every lot held, the rungs' too: the 1% rung would have been
    # lost without a word (its lots sold at the moving target instead).
    source = ("take_profit long 1% exit 50%\ntake_profit long at entry_price * 1.02\n"
              "enter long when close > open\n")
    [diag] = [d for d in errors(source).diagnostics if "ladder" in d.message]
    assert diag.message == "a target that reads position state cannot sit beside the long ladder's targets"
    assert (diag.span.line, diag.span.column) == (2, 1)
    compile_source(source.replace("entry_price * 1.02", "close * 1.02"), "t.tbs")  # not reading it: fine


def test_optimize_where_says_why() -> None:
    diags = errors("param n = 10 in 5..20\noptimize maximize sharpe where n < bars_since_entry\n"
                   "enter long when close > open\n").diagnostics
    assert "picks params before any run" in diags[0].hint


def test_a_universe_script_may_read_position_state() -> None:
    """Each symbol of a portfolio runs the position program on its own position (runtime tests:
    tests/runtime/test_portfolio_position.py)."""
    strategy = compile_source('universe "*.csv"\nmax_positions 2\nenter long when close > open\n'
                              "exit long when bars_since_entry > 3\n"
                              "stop_loss long at entry_price - 2 * atr(14)\n", "u.tbs")
    assert strategy.checked.settings["universe"] == "*.csv"


def test_every_mistake_at_once() -> None:
    source = ("a = sma(open_profit, 5)\nb = (close > entry_price) @ 4h\n"
              'enter long when a > 0 and b and last_exit_reason == "nope"\n')
    assert [d.span.line for d in errors(source).diagnostics] == [1, 2, 3]


def test_what_may_read_position_state_compiles() -> None:
    compile_source("x = if position_side != 0 then x[1] + 1 else 0 starting 0\n"
                   "stop_loss long at entry_price - 2 * atr(14)\ntake_profit long at entry_price * 1.02\n"
                   "trailing_stop long (if bars_since_entry > 10 then 0.5 else 1) * atr(14)\n"
                   "enter long when close > open and nz(bars_since_exit, 99) > 3\n"
                   "exit long when open_profit crosses below 0 or x > 20 or bars_since_entry[2] > 30\n", "s.tbs")


def test_a_position_value_is_not_a_column() -> None:
    with pytest.raises(UsageError, match="`entry_price` is position state"):
        compile_source("x = entry_price\nenter long when close > open\n", "s.tbs", series=["x"])
