"""`expr of SYMBOL`: another symbol's series, computed on its own bars and read on the script's bar
with the same open time (docs/language.md, "Other symbols"). Hand-worked cases, the reference
evaluator, and no lookahead (Hypothesis)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from tradebot.lang import reference
from tradebot.lang.checker import SIGNALS
from tradebot.lang.compiler import compile_nodes
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.timeframes import TimeframeError
from tradebot.lang.statements import program
from tradebot.lang.parser import parse_program
from tradebot.pipeline import compile_source

from .strategies import ohlcv
from .test_compiler_reference import CONDITION, NUMBER, SETTINGS, as_float, assert_same, bars_dict
from .test_compiler_reference import compile_source as compile_or_reject

START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
NAN = np.nan


def bars_at(hours: list[int], closes: list[float]) -> pl.DataFrame:
    return pl.DataFrame({
        "timestamp": pl.Series([START + dt.timedelta(hours=h) for h in hours]).cast(pl.Datetime("ms", "UTC")),
        "open": closes, "high": closes, "low": closes, "close": closes, "volume": [1.0] * len(hours)})


# The script's bars open at hours 0..5; BTC has no bar at hour 2, and one at hour 6 the script lacks.
SCRIPT_BARS = bars_at([0, 1, 2, 3, 4, 5], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
BTC_BARS = bars_at([0, 1, 3, 4, 5, 6], [10.0, 20.0, 40.0, 50.0, 60.0, 70.0])

HAND_WORKED = {
    # BTC's close at the same open time; hour 2 is missing, not carried forward from hour 1.
    "close of BTC": [10, 20, NAN, 40, 50, 60],
    # The average of BTC's own last two bars (hours 1 and 3 at hour 3), not of two script hours.
    "sma(close, 2) of BTC": [NAN, 15, NAN, 30, 45, 55],
    # BTC's previous bar of its own: at hour 3 that is hour 1's 20.
    "close[1] of BTC": [NAN, 10, NAN, 20, 40, 50],
    # The script's previous bar's reading: at hour 3 that is hour 2, where BTC had none.
    "(close of BTC)[1]": [NAN, 10, 20, NAN, 40, 50],
    # Arithmetic with the script's own series.
    "close / close of BTC": [0.1, 0.1, NAN, 0.1, 0.1, 0.1],
}


@pytest.mark.parametrize("text", list(HAND_WORKED))
def test_hand_worked_readings_of_another_symbol(text: str) -> None:
    strategy = compile_source(f"x = {text}\n", "h.tbs", series=["x"])
    assert strategy.plan.other_symbols == ("BTC",)
    compiled = as_float(strategy.plan.evaluate(SCRIPT_BARS, others={"BTC": BTC_BARS})["x"])
    expected = np.array(HAND_WORKED[text], dtype=float)
    assert_same(compiled, expected, text)
    naive = reference.evaluate(strategy.checked.series["x"], bars_dict(SCRIPT_BARS),
                               others={"BTC": bars_dict(BTC_BARS)})
    assert_same(naive, expected, text)


def test_a_rule_reading_a_missing_bar_does_not_fire() -> None:
    strategy = compile_source("enter long when close of BTC > 0\n", "r.tbs")
    frame = strategy.plan.evaluate(SCRIPT_BARS, others={"BTC": BTC_BARS})
    assert frame["enter_long"].to_list() == [True, True, False, True, True, True]


def test_two_symbols_and_a_bound_plan() -> None:
    eth = bars_at([1, 2, 3], [5.0, 6.0, 7.0])
    strategy = compile_source("x = close of BTC - close of ETH\n", "t.tbs", series=["x"])
    assert strategy.plan.other_symbols == ("BTC", "ETH")
    bound = strategy.plan.with_others({"BTC": BTC_BARS, "ETH": eth})
    assert_same(as_float(bound.evaluate(SCRIPT_BARS)["x"]), np.array([NAN, 15, NAN, 33, NAN, NAN]), "x")


@pytest.mark.parametrize("text, message", [
    ("(close of BTC) @ 4h", "`of BTC` inside `@ 4h`"),
    ("(close of ETH) of BTC", "`of ETH` inside `of BTC`"),
    ("macd(close) of BTC", "macd"),
    ('"a" of BTC', "only numbers and conditions can be read from another symbol"),
])
def test_what_cannot_be_read_from_another_symbol_is_a_caret_error(text: str, message: str) -> None:
    with pytest.raises(ScriptDiagnostics) as caught:
        compile_source(f"x = {text}\n", "e.tbs", series=["x"])
    assert message in caught.value.render() and "^" in caught.value.render()


def test_a_plan_given_no_bars_for_a_symbol_points_at_the_of() -> None:
    strategy = compile_source("enter long when close > sma(close, 3) of BTC\n", "n.tbs")
    with pytest.raises(ScriptDiagnostics) as caught:
        strategy.plan.evaluate(SCRIPT_BARS)
    text = caught.value.render()
    assert "n.tbs:1:25: error: `of BTC` reads another symbol's bars, and none were loaded" in text


def test_a_window_longer_than_the_other_symbols_bars_is_refused() -> None:
    strategy = compile_source("enter long when close > sma(close, 7) of BTC\n", "w.tbs")
    with pytest.raises(ScriptDiagnostics, match="a window of 7 bars is longer than the data .6 bars."):
        strategy.plan.evaluate(SCRIPT_BARS, others={"BTC": BTC_BARS}, whole_data=True)


def test_of_is_a_name_where_no_value_precedes_it_and_unit_words_stay_units() -> None:
    text = 'of = close\nsize 50% of equity\nx = of of "1000PEPE"\n'
    assert program(parse_program(text)) == text
    strategy = compile_source(text, "o.tbs", series=["x"])
    assert strategy.checked.settings["size"] == ("equity", 0.5)
    assert strategy.plan.other_symbols == ("1000PEPE",)


def test_a_calendar_function_over_no_complete_higher_bar_is_missing_not_a_crash() -> None:
    """Found by the property below: `hour(...) @ 3h` on two bars starting inside a 3h bucket has
    no higher bar at all, and the calendar's fast path asked an empty series for its minimum."""
    strategy = compile_source('x = (hour("UTC", open)) @ 3h\n', "c.tbs", series=["x"])
    assert strategy.plan.evaluate(bars_at([1, 2], [1.0, 1.0]))["x"].to_list() == [None, None]


@st.composite
def other_bars(draw) -> pl.DataFrame:
    """Bars of another symbol on the same hourly grid: some hours missing, shifted a few hours."""
    bars = draw(ohlcv(min_bars=2, max_bars=70))
    keep = draw(st.lists(st.booleans(), min_size=bars.height, max_size=bars.height))
    kept = bars.filter(pl.Series(keep)) if sum(keep) >= 2 else bars
    shift = dt.timedelta(hours=draw(st.integers(-5, 5)))
    return kept.with_columns(pl.col("timestamp") + shift)


def _evaluate_or_reject(evaluate):
    try:
        return evaluate()
    except TimeframeError:
        reject()  # an `@ 3h` inside `of` on other bars whose gaps make their interval 2h


@SETTINGS
@given(number=NUMBER, condition=CONDITION, bars=ohlcv(), other=other_bars())
def test_compiled_readings_of_another_symbol_equal_reference(number: str, condition: str,
                                                             bars: pl.DataFrame, other: pl.DataFrame) -> None:
    strategy = compile_or_reject(f"x = ({number}) of B\nc = ({condition}) of B or close > open\n", "g.tbs",
                                 series=["x", "c"])
    nodes = dict(strategy.checked.series)
    frame = _evaluate_or_reject(lambda: compile_nodes(nodes).evaluate(bars, others={"B": other}))
    for name, node in nodes.items():
        expected = _evaluate_or_reject(lambda: reference.evaluate(node, bars_dict(bars),
                                                                  others={"B": bars_dict(other)}))
        assert_same(as_float(frame[name]), expected, f"{name}: {number} / {condition}")


@SETTINGS
@given(condition=CONDITION, bars=ohlcv(min_bars=3), other=other_bars(), data=st.data())
def test_signals_reading_another_symbol_never_change_when_bars_are_appended(
        condition: str, bars: pl.DataFrame, other: pl.DataFrame, data) -> None:
    """No lookahead: on the first t bars, with only the other symbol's bars that had closed by
    the end of the script's bar t-1, the signals are the first t of the full run's."""
    strategy = compile_or_reject(f"enter long when ({condition}) of B and close > open\n"
                                 f"exit long when not (({condition}) of B)\n", "p.tbs")
    t = data.draw(st.integers(1, bars.height - 1), label="t")
    last = bars["timestamp"][t - 1]
    full = _evaluate_or_reject(lambda: strategy.plan.evaluate(bars, others={"B": other}))
    prefix = _evaluate_or_reject(lambda: strategy.plan.evaluate(
        bars.head(t), others={"B": other.filter(pl.col("timestamp") <= last)}))
    for name in SIGNALS:
        assert prefix[name].to_list() == full[name].to_list()[:t], f"{name} changed at t={t}: {condition}"


def test_of_is_a_keyword_for_the_highlighters_and_the_completer() -> None:
    from tradebot.lang.tooling.vocabulary import vocabulary
    from tradebot.repl.completer import keyword_candidates

    assert "of" in vocabulary().all_keywords
    assert "of" in {candidate.text for candidate in keyword_candidates()}
