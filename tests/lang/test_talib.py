"""Indicators against TA-Lib: equal to 1e-9 relative after its lookback, missing exactly where
TA-Lib's output is NaN. On the bundled real data and on Hypothesis-generated bars."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import given, settings

from tradebot.data.loader import load_ohlcv
from tradebot.pipeline import compile_source

from .strategies import ohlcv

# tbs expression -> function of the bars dict giving TA-Lib's answer.
CASES = {
    "sma(close, 20)": lambda b: talib.SMA(b["close"], 20),
    "ema(close, 21)": lambda b: talib.EMA(b["close"], 21),
    "ema(rsi(close, 14), 9)": lambda b: talib.EMA(talib.RSI(b["close"], 14), 9),
    "rsi(close, 14)": lambda b: talib.RSI(b["close"], 14),
    "rsi(close, 2)": lambda b: talib.RSI(b["close"], 2),
    "stdev(close, 20)": lambda b: talib.STDDEV(b["close"], 20, 1.0),
    "highest(high, 10)": lambda b: talib.MAX(b["high"], 10),
    "lowest(low, 10)": lambda b: talib.MIN(b["low"], 10),
    "tr()": lambda b: talib.TRANGE(b["high"], b["low"], b["close"]),
    "atr(14)": lambda b: talib.ATR(b["high"], b["low"], b["close"], 14),
    "change(close, 3)": lambda b: talib.MOM(b["close"], 3),
}


def compute(expression: str, bars: pl.DataFrame) -> np.ndarray:
    strategy = compile_source(f"x = {expression}\n", "talib.tbs", series=["x"])
    frame = strategy.plan.evaluate(bars)
    return frame["x"].cast(pl.Float64).fill_null(np.nan).to_numpy()


def assert_matches_talib(ours: np.ndarray, theirs: np.ndarray, label: str) -> None:
    assert (np.isnan(ours) == np.isnan(theirs)).all(), (
        f"{label}: warm-up differs: ours first valid at {np.argmax(~np.isnan(ours))}, "
        f"TA-Lib at {np.argmax(~np.isnan(theirs))}")
    valid = ~np.isnan(theirs)
    np.testing.assert_allclose(ours[valid], theirs[valid], rtol=1e-9, atol=1e-12, err_msg=label)


def as_arrays(bars: pl.DataFrame) -> dict[str, np.ndarray]:
    return {c: bars[c].to_numpy().astype(np.float64) for c in ("open", "high", "low", "close", "volume")}


@pytest.fixture(scope="module")
def eurusd(eurusd_path) -> pl.DataFrame:
    return load_ohlcv(eurusd_path)


@pytest.mark.parametrize("expression", CASES)
def test_matches_talib_on_real_data(expression: str, eurusd: pl.DataFrame) -> None:
    assert_matches_talib(compute(expression, eurusd), CASES[expression](as_arrays(eurusd)), expression)


@settings(max_examples=40, deadline=None)
@given(bars=ohlcv(min_bars=30, max_bars=120))
def test_matches_talib_on_generated_data(bars: pl.DataFrame) -> None:
    arrays = as_arrays(bars)
    for expression, oracle in CASES.items():
        assert_matches_talib(compute(expression, bars), oracle(arrays), expression)
