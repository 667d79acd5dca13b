"""The indicators Pine users expect (lang/library/pine.py) on cases worked out by hand from their
cited definitions, each also checked against the naive reference; TA-Lib parity for the ones
TA-Lib has (rma = ATR's smoothing, dmi = PLUS_DI/MINUS_DI/ADX, variance = VAR) is in
test_talib.py CASES, and correlation = CORREL on the real data here."""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import talib

from tradebot.data.loader import load_ohlcv

from .test_indicators_hand import evaluate, frame

NAN = np.nan


def candles(open_, high, low, close) -> pl.DataFrame:
    n = len(close)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pl.DataFrame({
        "timestamp": pl.Series([start + dt.timedelta(hours=h) for h in range(n)]).cast(pl.Datetime("ms", "UTC")),
        "open": np.asarray(open_, float), "high": np.asarray(high, float), "low": np.asarray(low, float),
        "close": np.asarray(close, float), "volume": np.ones(n),
    })


def test_rma_is_wilders_average() -> None:
    bars = frame(close=[1, 2, 3, 4, 5])
    # seed: mean(1, 2, 3) = 2; then (2 * 2 + 4) / 3 = 8/3; (8/3 * 2 + 5) / 3 = 31/9
    np.testing.assert_allclose(evaluate("rma(close, 3)", bars), [NAN, NAN, 2, 8 / 3, 31 / 9])
    np.testing.assert_allclose(evaluate("rma(close, 1)", bars), [1, 2, 3, 4, 5])


def test_alma_weights_a_gaussian_around_the_offset() -> None:
    bars = frame(close=[1, 2, 3, 4])
    # offset 0.5 centres the bell on the middle bar: symmetric weights, so a straight line's value.
    np.testing.assert_allclose(evaluate("alma(close, 3, 0.5, 6)", bars), [NAN, NAN, 2, 3])
    # offset 1 on 2 bars: m = 1, s = 2 / 6; weights exp(-9/2) (older), 1 (newer)
    w = np.exp(-1 / (2 * (1 / 3) ** 2))
    np.testing.assert_allclose(evaluate("alma(close, 2, 1, 6)", bars),
                               [NAN, (w * 1 + 2) / (w + 1), (w * 2 + 3) / (w + 1), (w * 3 + 4) / (w + 1)])


def test_tsi_double_smooths_momentum() -> None:
    rising = frame(close=[1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(evaluate("tsi(close, 2, 2)", rising), [NAN, NAN, NAN, 100, 100, 100])
    # changes 2, -1, 2; inner ema(2): seed 0.5, then 0.5 + 1.5 * 2/3 = 1.5; of |changes|: 1.5, then
    # 1.5 + 0.5 * 2/3 = 11/6; outer ema(1) is a copy: 100 * 0.5 / 1.5, 100 * 1.5 / (11/6)
    np.testing.assert_allclose(evaluate("tsi(close, 1, 2)", frame(close=[0, 2, 1, 3])),
                               [NAN, NAN, 100 / 3, 900 / 11])
    assert np.isnan(evaluate("tsi(close, 1, 2)", frame(close=[5, 5, 5, 5]))).all()  # no movement


def test_median_variance_and_correlation() -> None:
    bars = frame(close=[5, 1, 4, 2, 3])
    np.testing.assert_allclose(evaluate("median(close, 3)", bars), [NAN, NAN, 4, 2, 3])
    np.testing.assert_allclose(evaluate("median(close, 2)", bars), [NAN, 3, 2.5, 3, 2.5])
    line = frame(close=[1, 2, 3, 4], volume=[2, 4, 6, 8])
    np.testing.assert_allclose(evaluate("variance(close, 2)", line), [NAN, 0.25, 0.25, 0.25])
    np.testing.assert_allclose(evaluate("variance(close, 4)", line), [NAN, NAN, NAN, 1.25])
    np.testing.assert_allclose(evaluate("correlation(close, volume, 3)", line), [NAN, NAN, 1, 1])
    np.testing.assert_allclose(evaluate("correlation(close, -volume, 3)", line), [NAN, NAN, -1, -1])
    np.testing.assert_allclose(evaluate("correlation(close, 5, 3)", line), [NAN, NAN, 0, 0])  # flat: 0


def test_correlation_matches_talib_on_real_data(eurusd_path) -> None:
    bars = load_ohlcv(eurusd_path).head(2000)
    ours = evaluate("correlation(high, low, 20)", bars, rtol=1e-9)
    theirs = talib.CORREL(bars["high"].to_numpy(), bars["low"].to_numpy(), 20)
    assert (np.isnan(ours) == np.isnan(theirs)).all()
    np.testing.assert_allclose(ours[19:], theirs[19:], rtol=1e-9, atol=1e-12)


def test_pivots_are_reported_when_confirmed() -> None:
    bars = frame(close=[1, 3, 2, 5, 4, 4, 1])
    # The pivot at bar 3 (5 > 3, 2 and >= 4) is known once its right-hand bar (4) has closed.
    np.testing.assert_allclose(evaluate("pivothigh(close, 2, 1)", bars), [NAN, NAN, NAN, NAN, 5, NAN, NAN])
    lows = frame(close=[5, 3, 4, 1, 2, 2, 5])
    np.testing.assert_allclose(evaluate("pivotlow(close, 2, 1)", lows), [NAN, NAN, NAN, NAN, 1, NAN, NAN])
    plateau = frame(close=[1, 5, 5, 1])  # a flat top is one pivot, on its first bar
    np.testing.assert_allclose(evaluate("pivothigh(close, 1, 1)", plateau), [NAN, NAN, 5, NAN])
    # No lookahead: the first t bars alone give the same values.
    for t in range(1, 7):
        head = evaluate("pivothigh(close, 2, 1)", bars.head(t))
        np.testing.assert_allclose(head, evaluate("pivothigh(close, 2, 1)", bars)[:t])


def test_na_detects_missing_values_such_as_no_pivot() -> None:
    bars = frame(close=[1, 3, 2, 5, 4, 4, 1])
    np.testing.assert_array_equal(evaluate("if na(pivothigh(close, 2, 1)) then 0 else 1", bars),
                                  [0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(evaluate("if na(close[2]) then 1 else 0", bars), [1, 1, 0, 0, 0, 0, 0])


def test_heikinashi_candles() -> None:
    bars = candles([10, 11, 13], [12, 14, 13], [9, 10, 11], [11, 13, 12])
    # close = ohlc4: 10.5, 12, 12.25; open: (10 + 11) / 2, then (10.5 + 10.5) / 2, (10.5 + 12) / 2
    np.testing.assert_allclose(evaluate("heikinashi().close", bars), [10.5, 12, 12.25])
    np.testing.assert_allclose(evaluate("heikinashi().open", bars), [10.5, 10.5, 11.25])
    np.testing.assert_allclose(evaluate("heikinashi().high", bars), [12, 14, 13])
    np.testing.assert_allclose(evaluate("heikinashi().low", bars), [9, 10, 11])


def test_ichimoku_lines_without_displacement() -> None:
    bars = frame(close=[1, 2, 2, 4, 5], high=[2, 4, 3, 5, 6], low=[1, 2, 1, 3, 4])
    # every field from the bar the longest window (span_b, 4 bars) is full
    np.testing.assert_allclose(evaluate("ichimoku(2, 3, 4).conversion", bars), [NAN, NAN, NAN, 3, 4.5])
    np.testing.assert_allclose(evaluate("ichimoku(2, 3, 4).base", bars), [NAN, NAN, NAN, 3, 3.5])
    np.testing.assert_allclose(evaluate("ichimoku(2, 3, 4).span_a", bars), [NAN, NAN, NAN, 3, 4])
    np.testing.assert_allclose(evaluate("ichimoku(2, 3, 4).span_b", bars), [NAN, NAN, NAN, 3, 3.5])
    # the cloud a chart draws over bar t was computed 2 bars earlier (displacement 2)
    np.testing.assert_allclose(evaluate("ichimoku(2, 3, 4).span_b[2]", bars), [NAN] * 5)


def test_dmi_fields_start_together() -> None:
    bars = load_ohlcv_head(60)
    plus = evaluate("dmi(5).plus", bars)
    adx = evaluate("dmi(5).adx", bars)
    assert (np.isnan(plus) == np.isnan(adx)).all() and np.isnan(plus[:9]).all() and not np.isnan(plus[9:]).any()


def load_ohlcv_head(n: int) -> pl.DataFrame:
    from pathlib import Path

    return load_ohlcv(Path(__file__).resolve().parents[2] / "data" / "EURUSD_1h.csv").head(n)
