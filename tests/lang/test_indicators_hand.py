"""Indicators TA-Lib lacks (hma, vwma, supertrend, keltner, donchian, cmf, vwap, vwap_rolling),
on cases worked out by hand from their cited definitions (docs/builtins.md), each also checked
against the naive reference loop; and every builtin's documented example, compiled, against the
reference on the bundled real data."""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from tradebot.data.loader import load_ohlcv
from tradebot.lang import reference
from tradebot.lang.builtins import REGISTRY
from tradebot.pipeline import compile_source

NAN = np.nan


def frame(*, close, high=None, low=None, volume=None, hours=None) -> pl.DataFrame:
    n = len(close)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    hours = hours if hours is not None else range(n)
    return pl.DataFrame({
        "timestamp": pl.Series([start + dt.timedelta(hours=h) for h in hours]).cast(pl.Datetime("ms", "UTC")),
        "open": np.asarray(close, float), "high": np.asarray(high if high is not None else close, float),
        "low": np.asarray(low if low is not None else close, float), "close": np.asarray(close, float),
        "volume": np.asarray(volume if volume is not None else np.ones(n), float),
    })


def evaluate(expression: str, bars: pl.DataFrame, *, rtol: float = 1e-12) -> np.ndarray:
    strategy = compile_source(f"x = {expression}\n", "hand.tbs", series=["x"])
    compiled = strategy.plan.evaluate(bars)["x"].cast(pl.Float64).fill_null(NAN).to_numpy()
    expected = reference.evaluate(strategy.checked.series["x"], {c: bars[c].to_numpy() for c in bars.columns})
    assert (np.isnan(compiled) == np.isnan(expected)).all(), f"{expression}: missing values differ"
    np.testing.assert_allclose(compiled, expected, rtol=rtol, err_msg=f"{expression}: compiler vs reference")
    return compiled


def test_donchian() -> None:
    bars = frame(close=[3, 5, 4, 3, 6], high=[5, 7, 6, 4, 8], low=[1, 2, 3, 2, 4])
    np.testing.assert_allclose(evaluate("donchian(3).upper", bars), [NAN, NAN, 7, 7, 8])
    np.testing.assert_allclose(evaluate("donchian(3).lower", bars), [NAN, NAN, 1, 2, 2])
    np.testing.assert_allclose(evaluate("donchian(3).middle", bars), [NAN, NAN, 4, 4.5, 5])


def test_vwma_and_rolling_vwap() -> None:
    bars = frame(close=[10, 20, 30, 40], volume=[1, 3, 0, 2])
    np.testing.assert_allclose(evaluate("vwma(close, 2)", bars), [NAN, 17.5, 20, 40])
    np.testing.assert_allclose(evaluate("vwap_rolling(2, close)", bars), [NAN, 17.5, 20, 40])
    silent = frame(close=[10, 20, 30], volume=[0, 0, 5])
    np.testing.assert_allclose(evaluate("vwma(close, 2)", silent), [NAN, NAN, 30])  # no volume: missing


def test_session_vwap_resets_at_midnight_utc() -> None:
    bars = frame(close=[10, 20, 30, 40], volume=[1, 1, 2, 2], hours=[22, 23, 24, 25])
    np.testing.assert_allclose(evaluate("vwap(close)", bars), [10, 15, 30, 35])
    np.testing.assert_allclose(evaluate("vwap(hlc3)", bars), [10, 15, 30, 35])


def test_chaikin_money_flow() -> None:
    # money-flow volume: ((c - l) - (h - c)) / (h - l) * v = 1, -1, 0 (h == l), 1
    bars = frame(close=[7.5, 2.5, 5, 10], high=[10, 10, 5, 10], low=[0, 0, 5, 0], volume=[2, 2, 4, 1])
    np.testing.assert_allclose(evaluate("cmf(2)", bars), [NAN, 0, -1 / 6, 0.2])
    np.testing.assert_allclose(evaluate("ad()", bars), [1, 0, 0, 1])


def test_keltner() -> None:
    bars = frame(close=[10, 12, 11], high=[11, 13, 12], low=[9, 11, 10])
    # ema(close, 2): 11 (the mean of 10 and 12), then 11; atr(1) is the true range: 3, then 2.
    np.testing.assert_allclose(evaluate("keltner(2, 2, 1).middle", bars), [NAN, 11, 11])
    np.testing.assert_allclose(evaluate("keltner(2, 2, 1).upper", bars), [NAN, 17, 15])
    np.testing.assert_allclose(evaluate("keltner(2, 2, 1).lower", bars), [NAN, 5, 7])


def test_hull_average_follows_a_straight_line_without_lag() -> None:
    bars = frame(close=[1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_allclose(evaluate("hma(close, 4)", bars), [NAN] * 4 + [5, 6, 7])


def test_supertrend() -> None:
    bars = frame(high=[11, 12, 13, 14, 11, 10, 15], low=[9, 10, 11, 12, 9, 8, 13],
                 close=[10, 11, 12, 13, 9.5, 8.5, 14.5])
    # atr(2): 2, 2, 3, 2.5, 4.5 from bar 2; bands hl2 -/+ atr; the upper band ratchets down
    # (14, 14, 13, 11.5) while the trend is down; the close 14.5 above 11.5 turns it up, and the
    # line becomes the lower band, 14 - 4.5.
    np.testing.assert_allclose(evaluate("supertrend(1, 2).line", bars), [NAN, NAN, 14, 14, 13, 11.5, 9.5])
    np.testing.assert_allclose(evaluate("supertrend(1, 2).direction", bars), [NAN, NAN, -1, -1, -1, -1, 1])


def test_linear_regression_of_a_line() -> None:
    bars = frame(close=[1, 3, 5, 7, 9])
    np.testing.assert_allclose(evaluate("linreg(close, 3).slope", bars), [NAN, NAN, 2, 2, 2])
    np.testing.assert_allclose(evaluate("linreg(close, 3).value", bars), [NAN, NAN, 5, 7, 9])
    np.testing.assert_allclose(evaluate("linreg(close, 3).intercept", bars), [NAN, NAN, 1, 3, 5])


@pytest.fixture(scope="module")
def eurusd_head(eurusd_path) -> pl.DataFrame:
    return load_ohlcv(eurusd_path).head(400)


# Position state has no column outside a run: tests/runtime/test_position_state.py pins it.
@pytest.mark.parametrize("name", sorted(n for n, b in REGISTRY.items() if not b.is_series and b.category != "position"))
def test_every_example_equals_the_reference_on_real_data(name: str, eurusd_head) -> None:
    """The documented example, compiled, against the naive reference (bar by bar, in Python)."""
    example = REGISTRY[name].example
    evaluate(example, eurusd_head, rtol=1e-9)
