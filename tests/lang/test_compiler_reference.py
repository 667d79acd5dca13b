"""The compiler against the naive reference evaluator, and causality (no lookahead), on random
scripts and random bars (Hypothesis)."""
from __future__ import annotations

import numpy as np
import pytest
import polars as pl
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from tradebot.lang import reference
from tradebot.lang.checker import SIGNALS
from tradebot.lang.compiler import compile_nodes
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.pipeline import Strategy
from tradebot.pipeline import compile_source as _compile_source
from tradebot.runtime.signals import Signals

from .strategies import expressions, ohlcv, stateful

NUMBER, CONDITION = expressions()
# Issue 13's time, calendar and Pine families, drawn on their own as well (a draw from the whole
# registry reaches each of them rarely).
LANGUAGE_V2 = frozenset({"rma", "alma", "tsi", "dmi", "median", "variance", "correlation", "pivothigh",
                         "pivotlow", "heikinashi", "ichimoku", "hour", "minute", "dayofweek", "dayofmonth",
                         "month", "year", "in_session", "vwap", "floor", "ceil",
                         "highest", "lowest", "sum", "sma", "stdev", "na"})  # series-valued windows, na
V2_NUMBER, V2_CONDITION = expressions(only=LANGUAGE_V2)
STATEFUL = stateful(NUMBER, CONDITION)
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def evaluate_signals(strategy: Strategy, bars: pl.DataFrame) -> Signals:
    frame = strategy.plan.evaluate(bars)
    return Signals(**{name: frame[name].to_numpy() for name in SIGNALS})


def bars_dict(bars: pl.DataFrame) -> dict[str, np.ndarray]:
    return {c: bars[c].to_numpy() for c in ("timestamp", "open", "high", "low", "close", "volume")}


def compile_source(source: str, filename: str, **options):
    """Compile, or discard the example when it is a compile error by design (constant folding of
    `log(-(1))` or `1 / (1 - 1)`, a 3h timeframe inside `@ 2h`, a constant window length of 0.5 where a
    series one may be anything), not a compiler/reference question."""
    try:
        return _compile_source(source, filename, **options)
    except ScriptDiagnostics as err:
        by_design = ("constant", "division by zero", "must be a whole multiple", "must be a whole number",
                     "must be at least",
                     "does not read its own past")  # a random recursion whose `s[1]` folded away
        if all(any(text in d.message for text in by_design) for d in err.diagnostics):
            reject()
        raise


def as_float(series: pl.Series) -> np.ndarray:
    return series.cast(pl.Float64).fill_null(np.nan).to_numpy()


def assert_same(compiled: np.ndarray, expected: np.ndarray, text: str) -> None:
    missing = np.isnan(expected)
    assert (np.isnan(compiled) == missing).all(), f"missing values differ for {text}:\n{compiled}\n{expected}"
    np.testing.assert_allclose(compiled[~missing], expected[~missing], rtol=1e-9, atol=1e-9, err_msg=text)


def script_for(number: str, condition: str) -> str:
    return f"x = {number}\nc = {condition}\nenter long when c\nexit long when not c\n"


@SETTINGS
@given(number=NUMBER, condition=CONDITION, bars=ohlcv())
def test_compiled_series_equal_reference(number: str, condition: str, bars: pl.DataFrame) -> None:
    strategy = compile_source(script_for(number, condition), "gen.tbs")
    nodes = dict(strategy.checked.series)
    frame = compile_nodes(nodes).evaluate(bars)
    for name, node in nodes.items():
        expected = reference.evaluate(node, bars_dict(bars))
        assert_same(as_float(frame[name]), expected, f"{name} = {number if name == 'x' else condition}")


@SETTINGS
@given(definitions=STATEFUL, condition=CONDITION, bars=ohlcv())
def test_compiled_stateful_series_equal_reference(definitions: str, condition: str, bars: pl.DataFrame) -> None:
    """Recursions (lang/stateful/: bytecode run by the VM) against the reference evaluator's
    bar-by-bar reading of their formulas."""
    strategy = compile_source(f"{definitions}c = {condition} and s > 0\nenter long when c\n", "gen.tbs")
    nodes = dict(strategy.checked.series)
    frame = compile_nodes(nodes).evaluate(bars)
    for name, node in nodes.items():
        expected = reference.evaluate(node, bars_dict(bars))
        assert_same(as_float(frame[name]), expected, f"{name} in\n{definitions}c = {condition}")


@SETTINGS
@given(definitions=STATEFUL, condition=CONDITION, bars=ohlcv(min_bars=3), data=st.data())
def test_stateful_signals_never_change_when_bars_are_appended(definitions: str, condition: str,
                                                              bars: pl.DataFrame, data) -> None:
    """No lookahead in a recursion either: its signals on the first t bars are the first t of all."""
    strategy = compile_source(f"{definitions}enter long when s > 0 and {condition}\nexit long when s <= 0\n",
                              "gen.tbs")
    t = data.draw(st.integers(1, bars.height - 1), label="t")
    full, prefix = evaluate_signals(strategy, bars), evaluate_signals(strategy, bars.head(t))
    for name in SIGNALS:
        assert (getattr(prefix, name) == getattr(full, name)[:t]).all(), f"{name} changed at t={t}:\n{definitions}"


@SETTINGS
@given(condition=CONDITION, bars=ohlcv())
def test_compiled_signals_equal_reference(condition: str, bars: pl.DataFrame) -> None:
    strategy = compile_source(f"enter long when {condition}\nexit short when not ({condition})\n", "gen.tbs")
    signals = evaluate_signals(strategy, bars)
    for name in SIGNALS:
        expected = reference.as_condition(reference.evaluate(strategy.checked.signals[name], bars_dict(bars)))
        assert (getattr(signals, name) == expected).all(), f"{name} differs for {condition}"


@SETTINGS
@given(condition=CONDITION, bars=ohlcv(min_bars=3), data=st.data())
def test_signals_never_change_when_bars_are_appended(condition: str, bars: pl.DataFrame, data) -> None:
    """No lookahead: signals computed on the first t bars equal the first t of all bars."""
    strategy = compile_source(f"enter long when {condition}\nexit long when not ({condition})\n", "gen.tbs")
    t = data.draw(st.integers(1, bars.height - 1), label="t")
    full, prefix = evaluate_signals(strategy, bars), evaluate_signals(strategy, bars.head(t))
    for name in SIGNALS:
        assert (getattr(prefix, name) == getattr(full, name)[:t]).all(), f"{name} changed at t={t}: {condition}"


@SETTINGS
@given(number=V2_NUMBER, condition=V2_CONDITION, bars=ohlcv(min_bars=3), data=st.data())
def test_language_v2_builtins_equal_reference_and_never_look_ahead(number: str, condition: str,
                                                                   bars: pl.DataFrame, data) -> None:
    test_compiled_series_equal_reference.hypothesis.inner_test(number, condition, bars)
    test_signals_never_change_when_bars_are_appended.hypothesis.inner_test(condition, bars, data)


def test_shared_subexpressions_are_computed_once() -> None:
    strategy = compile_source(
        "r = rsi(close, 14)\nenter long when rsi(close, 14) < 30 and r > 10\nexit long when rsi(close, 14) > 70\n",
        "shared.tbs", series=["r"])
    columns = [expr.meta.output_name() for layer in strategy.plan.layers for expr in layer]
    assert len(columns) == 1, columns  # one rsi column, used by `r` and both rules


def test_missing_values_never_fire_a_rule() -> None:
    frame = pl.DataFrame({
        "timestamp": pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1, 9), "1h",
                                       eager=True, time_zone="UTC").cast(pl.Datetime("ms", "UTC")),
        "open": [1.0] * 10, "high": [2.0] * 10, "low": [0.5] * 10,
        "close": [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10], "volume": [1.0] * 10,
    })
    strategy = compile_source("enter long when not (sma(close, 5) > 100)\n", "warmup.tbs")
    signals = evaluate_signals(strategy, frame)
    assert not signals.enter_long[:4].any()  # warm-up: sma missing → condition missing → no entry
    assert signals.enter_long[4:].all()


@pytest.mark.parametrize("number", [
    "stoch(2, 1, 1, high, low, close[3]).k",  # only the bar's own close is read: a value at bar 3
    "willr(2, high, low, close[3])",
    "stoch(3, 2, 2, high[1], low, close).d",
    "stochrsi(close[2], 3, 3, 2).k",
])
def test_shifted_inputs_of_range_indicators_equal_reference(number: str, eurusd_path) -> None:
    from tradebot.pipeline import load_bars

    bars = load_bars(eurusd_path).head(60)
    strategy = compile_source(script_for(number, "close > open"), "shifted.tbs")
    node = strategy.checked.series["x"]
    frame = compile_nodes({"x": node}).evaluate(bars)
    assert_same(as_float(frame["x"]), reference.evaluate(node, bars_dict(bars)), number)


def test_ultosc_with_a_high_below_its_low_matches_the_reference() -> None:
    """Hypothesis found `ultosc(1, 1, 1, 1, open, open)` at 100 compiled and 0 in the reference:
    the reference took the true range as max(high, prev close) - true low, TA-Lib (and the kernel)
    as the largest of high - low, |prev close - high|, |prev close - low|; they differ only when a
    script passes a "high" below its "low"."""
    import datetime as dt

    opens = np.array([1.5, 1.2, 0.8, 1.9])
    bars = pl.DataFrame({"timestamp": [dt.datetime(2024, 1, 1, i, tzinfo=dt.timezone.utc) for i in range(4)],
                         "open": opens, "high": opens * 1.1, "low": opens * 0.9, "close": opens,
                         "volume": np.ones(4)})
    strategy = compile_source(script_for("ultosc(1, 1, 1, 1, open, open)", "close > open"), "ult.tbs")
    node = dict(strategy.checked.series)["x"]
    compiled = as_float(compile_nodes({"x": node}).evaluate(bars)["x"])
    # By hand (period 1, high 1): bar 1 buys 1.2 - min(1.2, 1.5) = 0 of a range max(1 - 1.2, |1.5 - 1|,
    # |1.5 - 1.2|) = 0.5 -> 0; bar 2 buys 0.8 - 0.8 = 0 -> 0; bar 3 buys 1.9 - 0.8 = 1.1 of
    # max(1 - 1.9, |0.8 - 1|, |0.8 - 1.9|) = 1.1 -> 100.
    np.testing.assert_allclose(compiled, [np.nan, 0.0, 0.0, 100.0])
    assert_same(compiled, reference.evaluate(node, bars_dict(bars)), "ultosc with high < low")
