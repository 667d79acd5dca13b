"""Series, signal and math functions, and the streak/cross operators, on hand-computed series.

Each case is a tiny input with the answer worked out by hand (missing = nan); every one also runs
through the naive reference evaluator, so the lowering and the reference agree on it too."""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from tradebot.lang import reference
from tradebot.pipeline import compile_source

NAN = np.nan
T, F = 1.0, 0.0


def bars(close, *, high=None, low=None, open_=None, volume=None, hours=None) -> pl.DataFrame:
    close = np.asarray(close, dtype=float)
    n = len(close)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    hours = hours if hours is not None else range(n)
    return pl.DataFrame({
        "timestamp": pl.Series([start + dt.timedelta(hours=h) for h in hours]).cast(pl.Datetime("ms", "UTC")),
        "open": np.asarray(open_ if open_ is not None else close, float),
        "high": np.asarray(high if high is not None else close, float),
        "low": np.asarray(low if low is not None else close, float),
        "close": close,
        "volume": np.asarray(volume if volume is not None else np.ones(n), float),
    })


def evaluate(expression: str, frame: pl.DataFrame) -> np.ndarray:
    strategy = compile_source(f"x = {expression}\n", "fn.tbs", series=["x"])
    compiled = strategy.plan.evaluate(frame)["x"].cast(pl.Float64).fill_null(NAN).to_numpy()
    expected = reference.evaluate(strategy.checked.series["x"], {c: frame[c].to_numpy() for c in frame.columns})
    np.testing.assert_allclose(compiled, expected, rtol=1e-12, err_msg=f"{expression}: compiler vs reference")
    return compiled


CLOSE = [3, 5, 4, 4, 6, 2, 7]
CASES = [
    # windows and changes
    ("highest(close, 3)", CLOSE, [NAN, NAN, 5, 5, 6, 6, 7]),
    ("lowest(close, 3)", CLOSE, [NAN, NAN, 3, 4, 4, 2, 2]),
    ("highestbars(close, 3)", CLOSE, [NAN, NAN, 1, 2, 0, 1, 0]),
    ("highestbars(close, 2)", [1, 2, 2, 1], [NAN, 0, 0, 1]),  # ties: the most recent bar
    ("lowestbars(close, 3)", CLOSE, [NAN, NAN, 2, 0, 1, 0, 1]),
    ("change(close, 2)", CLOSE, [NAN, NAN, 1, -1, 2, -2, 1]),
    ("pct_change(close, 1)", [4, 5, 4, 0, 2], [NAN, 0.25, -0.2, -1, NAN]),  # from 0: missing
    ("cum(close)", CLOSE, [3, 8, 12, 16, 22, 24, 31]),
    ("cum(close / (close - 4))", CLOSE, [-3, 2, NAN, NAN, 5, 4, 4 + 7 / 3]),  # 0 divisors skipped
    ("sum(close, 3)", CLOSE, [NAN, NAN, 12, 13, 14, 12, 15]),
    ("zscore(close, 2)", [1, 3, 3, 2], [NAN, 1, NAN, -1]),  # equal values: missing
    ("percentrank(close, 3)", CLOSE, [NAN, NAN, NAN, 200 / 3, 100, 0, 100]),
    ("ffill(if close > 4 then close else close / 0)", CLOSE, [NAN, 5, 5, 5, 6, 6, 7]),
    ("nz(close / (close - 4), -1)", CLOSE, [-3, 5, -1, -1, 3, -1, 7 / 3]),
    # conditions and state
    ("rising(close, 1)", CLOSE, [NAN, T, F, F, T, F, T]),
    ("rising(close, 2)", CLOSE, [NAN, NAN, F, F, T, F, T]),
    ("falling(close, 2)", CLOSE, [NAN, NAN, F, F, F, T, F]),
    ("between(close, 4, 5)", CLOSE, [F, T, T, T, F, F, F]),
    ("cross(close, 4)", CLOSE, [NAN, T, F, F, T, T, T]),  # 4 -> 4 touches without crossing
    ("close crosses above 4", CLOSE, [F, T, F, F, T, F, T]),  # false on bar 0: `and` is three-valued
    ("close crosses below 4", CLOSE, [NAN, F, F, F, F, T, F]),
    ("close > 4 for 2 bars", CLOSE, [NAN, F, F, F, F, F, F]),
    ("close >= 4 for 2 bars", CLOSE, [NAN, F, T, T, T, F, F]),
    ("close > 5 within 3 bars", CLOSE, [NAN, NAN, F, F, T, T, T]),
    ("barssince(close > 4)", CLOSE, [NAN, 0, 1, 2, 0, 1, 0]),
    ("valuewhen(close > 4, open, 0)", CLOSE, [NAN, 5, 5, 5, 6, 6, 7]),
    ("valuewhen(close > 4, close[1], 1)", CLOSE, [NAN, NAN, NAN, NAN, 3, 3, 4]),
    ("latch(close > 5, close < 3)", CLOSE, [F, F, F, F, T, F, T]),
    ("latch(close > 3, close > 4)", CLOSE, [F, F, T, T, F, F, F]),  # reset wins on the same bar
    # math
    ("abs(close - 5)", CLOSE, [2, 0, 1, 1, 1, 3, 2]),
    ("min(close, 4)", CLOSE, [3, 4, 4, 4, 4, 2, 4]),
    ("max(close, 4)", CLOSE, [4, 5, 4, 4, 6, 4, 7]),
    ("log(close - 4)", CLOSE, [NAN, 0, NAN, NAN, np.log(2), NAN, np.log(3)]),
    ("exp(close - 4)", CLOSE, list(np.exp(np.array(CLOSE, float) - 4))),
    ("exp(close * 200)", CLOSE, [np.exp(600.0), NAN, NAN, NAN, NAN, np.exp(400.0), NAN]),  # overflow
    ("sqrt(close - 4)", CLOSE, [NAN, 1, 0, 0, np.sqrt(2), NAN, np.sqrt(3)]),
    ("round(close / 4, 1)", CLOSE, [0.8, 1.2, 1, 1, 1.5, 0.5, 1.8]),
    ("clip(close, 3, 5)", CLOSE, [3, 5, 4, 4, 5, 3, 5]),
    ("sign(close - 4)", CLOSE, [-1, 1, 0, 0, 1, -1, 1]),
]


@pytest.mark.parametrize("expression, close, expected", CASES, ids=[c[0] for c in CASES])
def test_hand_computed(expression: str, close, expected) -> None:
    np.testing.assert_allclose(evaluate(expression, bars(close)), expected, rtol=1e-12, err_msg=expression)


def test_price_series_and_time() -> None:
    frame = bars([4.0, 6.0], high=[5.0, 8.0], low=[2.0, 5.0], open_=[3.0, 5.0], hours=[0, 5])
    np.testing.assert_allclose(evaluate("hl2", frame), [3.5, 6.5])
    np.testing.assert_allclose(evaluate("hlc3", frame), [11 / 3, 19 / 3])
    np.testing.assert_allclose(evaluate("ohlc4", frame), [3.5, 6.0])
    np.testing.assert_allclose(evaluate("open + high + low + close + volume", frame), [15.0, 25.0])
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000
    np.testing.assert_allclose(evaluate("time", frame), [start, start + 5 * 3.6e6])
