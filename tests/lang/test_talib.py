"""Indicators against TA-Lib: equal to 1e-9 relative after its lookback (near zero: within 1e-12
of the series' scale), missing exactly where TA-Lib's output is NaN. On the bundled real data and on Hypothesis-generated bars with flat runs,
price gaps, zero volume, and tiny and huge price levels.

Every case runs inside one compiled plan per data set (one series per case), the way a script with
many indicators runs.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebot.data.loader import load_ohlcv
from tradebot.pipeline import compile_source

H, L, C, V = "high", "low", "close", "volume"


def _hlc(b):
    return b[H], b[L], b[C]


def _from_adx(b, values, n):
    """A DI as dmi reports it: from ADX's first value on (a multi-output call's fields start together)."""
    return np.where(np.isnan(talib.ADX(*_hlc(b), n)), np.nan, values)


# tbs expression -> function of the bars dict giving TA-Lib's answer.
CASES = {
    # trend
    "sma(close, 20)": lambda b: talib.SMA(b[C], 20),
    "sma(close, 1)": lambda b: talib.SMA(b[C], 1),
    "ema(close, 21)": lambda b: talib.EMA(b[C], 21),
    "ema(close, 1)": lambda b: talib.EMA(b[C], 1),
    "ema(rsi(close, 14), 9)": lambda b: talib.EMA(talib.RSI(b[C], 14), 9),
    "wma(close, 10)": lambda b: talib.WMA(b[C], 10),
    "dema(close, 10)": lambda b: talib.DEMA(b[C], 10),
    "tema(close, 10)": lambda b: talib.TEMA(b[C], 10),
    "trima(close, 10)": lambda b: talib.TRIMA(b[C], 10),
    "trima(close, 7)": lambda b: talib.TRIMA(b[C], 7),
    "kama(close, 10)": lambda b: talib.KAMA(b[C], 10),
    "kama(close, 30)": lambda b: talib.KAMA(b[C], 30),
    "t3(close, 5, 0.7)": lambda b: talib.T3(b[C], 5, 0.7),
    "t3(close, 3, 0.3)": lambda b: talib.T3(b[C], 3, 0.3),
    "sar(0.02, 0.2)": lambda b: talib.SAR(b[H], b[L], 0.02, 0.2),
    "sar(0.05, 0.3)": lambda b: talib.SAR(b[H], b[L], 0.05, 0.3),
    "linreg(close, 14).value": lambda b: talib.LINEARREG(b[C], 14),
    "linreg(close, 14).slope": lambda b: talib.LINEARREG_SLOPE(b[C], 14),
    "linreg(close, 14).intercept": lambda b: talib.LINEARREG_INTERCEPT(b[C], 14),
    # momentum
    "rsi(close, 14)": lambda b: talib.RSI(b[C], 14),
    "rsi(close, 2)": lambda b: talib.RSI(b[C], 2),
    "macd(close, 12, 26, 9).macd": lambda b: talib.MACD(b[C], 12, 26, 9)[0],
    "macd(close, 12, 26, 9).signal": lambda b: talib.MACD(b[C], 12, 26, 9)[1],
    "macd(close, 12, 26, 9).hist": lambda b: talib.MACD(b[C], 12, 26, 9)[2],
    "macd(close, 5, 3, 4).hist": lambda b: talib.MACD(b[C], 5, 3, 4)[2],
    "stoch(5, 3, 3).k": lambda b: talib.STOCH(*_hlc(b), 5, 3, 0, 3, 0)[0],
    "stoch(5, 3, 3).d": lambda b: talib.STOCH(*_hlc(b), 5, 3, 0, 3, 0)[1],
    "stoch(14, 1, 4).d": lambda b: talib.STOCH(*_hlc(b), 14, 1, 0, 4, 0)[1],
    "stochrsi(close, 14, 5, 3).k": lambda b: talib.STOCHRSI(b[C], 14, 5, 3, 0)[0],
    "stochrsi(close, 14, 5, 3).d": lambda b: talib.STOCHRSI(b[C], 14, 5, 3, 0)[1],
    "cci(14)": lambda b: talib.CCI(*_hlc(b), 14),
    "roc(close, 10)": lambda b: talib.ROC(b[C], 10),
    "mom(close, 10)": lambda b: talib.MOM(b[C], 10),
    "willr(14)": lambda b: talib.WILLR(*_hlc(b), 14),
    "mfi(14)": lambda b: talib.MFI(*_hlc(b), b[V], 14),
    "adx(14)": lambda b: talib.ADX(*_hlc(b), 14),
    "adx(5)": lambda b: talib.ADX(*_hlc(b), 5),
    "plus_di(14)": lambda b: talib.PLUS_DI(*_hlc(b), 14),
    "minus_di(14)": lambda b: talib.MINUS_DI(*_hlc(b), 14),
    "aroon(14).up": lambda b: talib.AROON(b[H], b[L], 14)[1],
    "aroon(14).down": lambda b: talib.AROON(b[H], b[L], 14)[0],
    "aroonosc(14)": lambda b: talib.AROONOSC(b[H], b[L], 14),
    "trix(close, 15)": lambda b: talib.TRIX(b[C], 15),
    "ultosc(7, 14, 28)": lambda b: talib.ULTOSC(*_hlc(b), 7, 14, 28),
    "ultosc(28, 7, 14)": lambda b: talib.ULTOSC(*_hlc(b), 28, 7, 14),
    "cmo(close, 14)": lambda b: talib.CMO(b[C], 14),
    "apo(close, 12, 26)": lambda b: talib.APO(b[C], 12, 26, 1),
    "ppo(close, 12, 26)": lambda b: talib.PPO(b[C], 12, 26, 1),
    "bop()": lambda b: talib.BOP(b["open"], *_hlc(b)),
    # volatility
    "atr(14)": lambda b: talib.ATR(*_hlc(b), 14),
    "atr(1)": lambda b: talib.ATR(*_hlc(b), 1),
    "natr(14)": lambda b: talib.NATR(*_hlc(b), 14),
    "tr()": lambda b: talib.TRANGE(*_hlc(b)),
    "trange()": lambda b: talib.TRANGE(*_hlc(b)),
    "stdev(close, 20)": lambda b: talib.STDDEV(b[C], 20, 1.0),
    "bbands(close, 20, 2).upper": lambda b: talib.BBANDS(b[C], 20, 2, 2, 0)[0],
    "bbands(close, 20, 2).middle": lambda b: talib.BBANDS(b[C], 20, 2, 2, 0)[1],
    "bbands(close, 20, 2).lower": lambda b: talib.BBANDS(b[C], 20, 2, 2, 0)[2],
    # volume
    "obv(close)": lambda b: talib.OBV(b[C], b[V]),
    "ad()": lambda b: talib.AD(*_hlc(b), b[V]),
    "adosc(3, 10)": lambda b: talib.ADOSC(*_hlc(b), b[V], 3, 10),
    "adosc(10, 3)": lambda b: talib.ADOSC(*_hlc(b), b[V], 10, 3),
    # the Pine family (lang/library/pine.py) where TA-Lib has the indicator
    "rma(tr(), 14)": lambda b: talib.ATR(*_hlc(b), 14),
    "rma(tr(), 1)": lambda b: talib.ATR(*_hlc(b), 1),
    "dmi(14).plus": lambda b: _from_adx(b, talib.PLUS_DI(*_hlc(b), 14), 14),
    "dmi(14).minus": lambda b: _from_adx(b, talib.MINUS_DI(*_hlc(b), 14), 14),
    "dmi(14).adx": lambda b: talib.ADX(*_hlc(b), 14),
    "variance(close, 20)": lambda b: talib.VAR(b[C], 20, 1.0),
    # series functions with a TA-Lib counterpart
    "highest(high, 10)": lambda b: talib.MAX(b[H], 10),
    "lowest(low, 10)": lambda b: talib.MIN(b[L], 10),
    "sum(close, 10)": lambda b: talib.SUM(b[C], 10),
    "change(close, 3)": lambda b: talib.MOM(b[C], 3),
    # Bars since the extreme of the last 10 bars, from AROON over 9 (whose window is 10 bars and
    # which, like ours, breaks ties towards the most recent bar; MAXINDEX takes the oldest).
    "highestbars(high, 10)": lambda b: np.round(9 - talib.AROON(b[H], b[L], 9)[1] * 9 / 100),
    "lowestbars(low, 10)": lambda b: np.round(9 - talib.AROON(b[H], b[L], 9)[0] * 9 / 100),
}


def compute_all(bars: pl.DataFrame) -> dict[str, np.ndarray]:
    """Every case in one plan."""
    names = {f"x{i}": expression for i, expression in enumerate(CASES)}
    source = "".join(f"{name} = {expression}\n" for name, expression in names.items())
    frame = compile_source(source, "talib.tbs", series=list(names)).plan.evaluate(bars)
    return {expression: frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
            for name, expression in names.items()}


def compute(expression: str, bars: pl.DataFrame) -> np.ndarray:
    strategy = compile_source(f"x = {expression}\n", "talib.tbs", series=["x"])
    return strategy.plan.evaluate(bars)["x"].cast(pl.Float64).fill_null(np.nan).to_numpy()


def oracle(expression: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    return np.asarray(CASES[expression](arrays), dtype=float)


def assert_matches_talib(ours: np.ndarray, theirs: np.ndarray, label: str) -> None:
    assert (np.isnan(ours) == np.isnan(theirs)).all(), (
        f"{label}: warm-up differs: ours first valid at {np.argmax(~np.isnan(ours))}, "
        f"TA-Lib at {np.argmax(~np.isnan(theirs))}")
    valid = ~np.isnan(theirs)
    # 1e-9 relative; near zero, 1e-12 of the series' own scale: a sliding sum carries rounding
    # residue from bars long gone (TA-Lib's MFI answers 1e-12 on a 0..100 scale where the exact
    # value is 0), and no tolerance relative to 0 can absorb it.
    scale = max(1.0, float(np.max(np.abs(theirs[valid]), initial=0.0)))
    np.testing.assert_allclose(ours[valid], theirs[valid], rtol=1e-9, atol=1e-12 * scale, err_msg=label)


def as_arrays(bars: pl.DataFrame) -> dict[str, np.ndarray]:
    return {c: bars[c].to_numpy().astype(np.float64) for c in ("open", "high", "low", "close", "volume")}


@pytest.fixture(scope="module")
def eurusd(eurusd_path) -> pl.DataFrame:
    return load_ohlcv(eurusd_path)


@pytest.fixture(scope="module")
def eurusd_results(eurusd: pl.DataFrame) -> dict[str, np.ndarray]:
    return compute_all(eurusd)


@pytest.mark.parametrize("expression", CASES)
def test_matches_talib_on_real_data(expression: str, eurusd, eurusd_results) -> None:
    assert_matches_talib(eurusd_results[expression], oracle(expression, as_arrays(eurusd)), expression)


def test_one_indicator_alone_equals_it_in_a_plan(eurusd, eurusd_results) -> None:
    for expression in ("macd(close, 12, 26, 9).signal", "aroon(14).up", "sar(0.02, 0.2)"):
        np.testing.assert_array_equal(compute(expression, eurusd), eurusd_results[expression])


@st.composite
def market(draw, min_bars: int = 40, max_bars: int = 160) -> pl.DataFrame:
    """Valid OHLCV on a 1/8 price grid scaled by a power of two (2^-24 .. 2^24: tiny to huge
    prices, all exact in binary floating point), with flat runs (no movement at all), price gaps
    between bars and zero-volume bars."""
    n = draw(st.integers(min_bars, max_bars))
    scale = 2.0 ** draw(st.sampled_from([-24, -10, 0, 10, 24]))
    moves = np.array(draw(st.lists(st.integers(-16, 16), min_size=n, max_size=n)), dtype=float)
    flat = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if draw(st.booleans()):  # long flat runs
        start = draw(st.integers(0, n - 1))
        flat[start: start + draw(st.integers(1, 30))] = True
    gaps = np.array(draw(st.lists(st.sampled_from([0, 0, 0, 40, -40]), min_size=n, max_size=n)), dtype=float)
    moves[flat] = 0.0
    close = 800.0 + np.cumsum(moves + np.where(flat, 0.0, gaps))
    close = np.maximum(close, 8.0)
    open_ = np.concatenate([[close[0]], close[:-1]]) + np.where(flat, 0.0, gaps)
    open_ = np.where(flat, close, np.maximum(open_, 8.0))
    wicks = np.array(draw(st.lists(st.integers(0, 8), min_size=2 * n, max_size=2 * n)), dtype=float)
    high = np.maximum(open_, close) + np.where(flat, 0.0, wicks[:n])
    low = np.maximum(np.minimum(open_, close) - np.where(flat, 0.0, wicks[n:]), 1.0)
    volume = np.array(draw(st.lists(st.sampled_from([0, 1, 7, 100, 5000]), min_size=n, max_size=n)), dtype=float)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pl.DataFrame({
        "timestamp": pl.Series([start + dt.timedelta(hours=i) for i in range(n)]).cast(pl.Datetime("ms", "UTC")),
        "open": open_ / 8 * scale, "high": high / 8 * scale, "low": low / 8 * scale,
        "close": close / 8 * scale, "volume": volume,
    })


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=market())
def test_matches_talib_on_generated_data(bars: pl.DataFrame) -> None:
    arrays = as_arrays(bars)
    results = compute_all(bars)
    for expression in CASES:
        assert_matches_talib(results[expression], oracle(expression, arrays), expression)
