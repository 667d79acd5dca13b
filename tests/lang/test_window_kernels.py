"""The compiled window sums (library/sums.py), the window kernels added with them
(library/windows.py, library/extremes.py) and the EMA combinations (library/kernels.py) against
naive loops.

Hypothesis series have missing values, flat runs, and values from tiny to large on a binary grid
(so a sum is exact however it is added up, and kernels that only add must agree bit for bit);
window lengths run from 1 (fresh sums) past the block length (the block scans) to longer than
the series. The TA-Lib and reference tests cover the lowerings; these cover the kernels' own
paths (blocks, in-place sums, restarts) on lengths those tests do not reach.
"""
from __future__ import annotations

import math
import sys

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tradebot.pipeline  # noqa: F401  (loads the library in its import order)
from tradebot.lang.library import extremes, kernels, sums, support, wilder, windows
from tradebot.lang.library.momentum import _ref_bop, _ref_cci, _ref_roc, _ref_stoch, _ref_stochastic, _ref_trix, _ref_willr
from tradebot.lang.library.momentum import _trix, naive_bars_since_extreme
from tradebot.lang.library.naive import lag, naive_window, naive_windows
from tradebot.lang.library.support import difference
from tradebot.lang.library.trend import FRESH_TRIMA, _ref_linreg, _ref_trima, _trima
from tradebot.lang.library.volatility import _ref_keltner, naive_true_range
from tradebot.lang.library.volume import naive_money_flow_volume
from tradebot.lang.compiler import compile_program
from tradebot.pipeline import compile_source

NAN = np.nan
SETTINGS = settings(max_examples=150, deadline=None)


def readonly(values) -> np.ndarray:
    """As the kernels get them from Polars (read-only views), so the tests reuse the kernels'
    compiled specializations instead of compiling their own."""
    array = np.array(values, dtype=np.float64)
    array.flags.writeable = False
    return array


@st.composite
def series(draw, *, missing: bool = True, min_size: int = 0, max_size: int = 80) -> np.ndarray:
    """k/8 for |k| <= 64, times 2^-10, 1 or 2^20, with flat runs and (optionally) missing bars."""
    size = draw(st.integers(min_size, max_size))
    scale = draw(st.sampled_from([2.0 ** -10, 1.0, 2.0 ** 20]))
    steps = draw(st.lists(st.integers(-64, 64), min_size=size, max_size=size))
    values = np.array(steps, dtype=float) / 8 * scale
    if size and draw(st.booleans()):  # a flat run
        start = draw(st.integers(0, size - 1))
        values[start: start + draw(st.integers(1, 25))] = values[start]
    if missing and size:
        for index in draw(st.lists(st.integers(0, size - 1), max_size=4)):
            values[index] = NAN
    return readonly(values)


def windows_of(x: np.ndarray, n: int, fn) -> np.ndarray:
    return naive_window(x, n, fn)


def assert_same(got: np.ndarray, expected: np.ndarray, *, rtol: float = 0.0, atol: float = 0.0) -> None:
    assert (np.isnan(got) == np.isnan(expected)).all(), f"missing values differ:\n{got}\n{expected}"
    valid = ~np.isnan(expected)
    np.testing.assert_allclose(got[valid], expected[valid], rtol=rtol, atol=atol)


def scale_of(x: np.ndarray) -> float:
    return float(np.nanmax(np.abs(x), initial=1.0)) if len(x) else 1.0


def assert_vouches(values: np.ndarray, probe: float, x: np.ndarray, n: int) -> None:
    """support.window's `summed`: a probe that is not NaN vouches that no result after the
    window's n - 1 leading NaN is NaN, and (on these finite values) it is NaN only when an
    input is."""
    if not np.isnan(probe):
        assert not np.isnan(values[n - 1:]).any(), (values, probe)
    assert np.isnan(probe) <= np.isnan(x).any()


LENGTHS = st.integers(1, 30)


# ------------------------------------------------------------------ sums.py


@SETTINGS
@given(x=series(), n=LENGTHS)
def test_rolling_sum_and_mean_equal_fresh_sums(x, n) -> None:
    assert_same(sums.rolling_sum(x, n, 1.0), windows_of(x, n, np.sum))  # exact on the grid
    assert_same(sums.rolling_sum(x, n, float(n)), windows_of(x, n, np.sum) / n)
    in_place = np.array(x)
    sums.smooth(in_place, n)
    assert_same(in_place, sums.rolling_sum(x, n, float(n)))
    values, probe = sums.window_sums(x, n, 1.0)
    assert_same(values, sums.rolling_sum(x, n, 1.0))
    assert_vouches(values, probe, x, n)


@pytest.mark.parametrize("n", [2, 5, 9, 20])
def test_a_window_sum_forgets_a_huge_value(n) -> None:
    # A running sum (add the new bar, subtract the oldest) is off by ~1e4 here once 1e20 has left.
    x = readonly([1e20] + [0.1 * (i % 7) for i in range(1, 60)])
    expected = windows_of(x, n, lambda w: float(np.sum(w)))
    assert_same(sums.rolling_sum(x, n, 1.0)[n:], expected[n:], rtol=1e-12, atol=1e-15)


@SETTINGS
@given(x=series(), first=st.integers(1, 15), second=st.integers(1, 15))
def test_trima_is_the_mean_of_the_mean(x, first, second) -> None:
    inner = windows_of(x, first, np.mean)
    # The inner means are rounded, and the two sides add them in different orders, so a mean that
    # is 0 in exact arithmetic comes out as 0 on one side and ~1e-12 of the inputs' size on the other.
    assert_same(sums.trima(x, first, second), windows_of(inner, second, np.mean), rtol=1e-12,
                atol=1e-12 * scale_of(x))


@SETTINGS
@given(x=series(), n=LENGTHS, mult=st.sampled_from([0.0, 1.0, 2.5]))
def test_mean_and_deviation(x, n, mult) -> None:
    atol = 1e-12 * scale_of(x)
    assert_same(sums.mean_and_deviation(x, n, 0.0, 1.0), windows_of(x, n, np.std), rtol=1e-9, atol=atol)
    upper = windows_of(x, n, np.mean) + mult * windows_of(x, n, np.std)
    assert_same(sums.mean_and_deviation(x, n, 1.0, mult), upper, rtol=1e-9, atol=atol)


@pytest.mark.parametrize("n", [2, 5, 20])
def test_the_deviation_keeps_its_digits_at_a_high_level_and_forgets_a_huge_value(n) -> None:
    # Sums of x and x * x (TA-Lib's STDDEV) lose every digit of a deviation of 0.1 at a level of
    # 1e9, and a running sum keeps the residue of 1e20 after it has left the window.
    rng = np.random.default_rng(n)
    level = readonly(1e9 + np.round(rng.normal(0, 1, 200), 1))
    assert_same(sums.mean_and_deviation(level, n, 0.0, 1.0), windows_of(level, n, np.std), rtol=1e-9)
    huge = readonly([1e20] + list(np.round(rng.normal(0, 1, 60), 1)))
    assert_same(sums.mean_and_deviation(huge, n, 0.0, 1.0)[n:], windows_of(huge, n, np.std)[n:], rtol=1e-9)


def test_a_flat_window_has_no_deviation() -> None:
    x = readonly([3.0, 1e9 + 0.5, 1e9 + 0.5, 1e9 + 0.5, 1e9 + 0.5, 1e9 + 0.5, 7.0])
    got = sums.mean_and_deviation(x, 5, 0.0, 1.0)
    assert got[5] == 0.0 and np.isnan(got[:4]).all() and got[4] > 0


@SETTINGS
@given(data=st.data(), n=LENGTHS, weigh=st.booleans())
def test_ratio_of_sums(data, n, weigh) -> None:
    top = data.draw(series(), label="top")
    bottom = readonly(np.abs(data.draw(series(min_size=len(top), max_size=len(top)), label="bottom")))
    numerator = top * bottom if weigh else top

    def ratio(t, b):
        return float(np.sum(t) / np.sum(b)) if np.sum(b) != 0 else NAN
    values, probe = sums.ratio_of_sums(top, bottom, n, weigh)
    assert_same(values, naive_windows([numerator, bottom], n, ratio), rtol=1e-12)
    assert np.isnan(probe) or not np.isnan(values[n - 1:]).any()  # support.window's `summed`


@SETTINGS
@given(data=st.data(), n=LENGTHS)
def test_money_flow_ratio(data, n) -> None:
    high, low, close, volume = bars(data)
    flow = naive_money_flow_volume(high, low, close, volume)

    def ratio(f, v):
        return float(np.sum(f) / np.sum(v)) if np.sum(v) != 0 else NAN
    values, probe = sums.money_flow_ratio(high, low, close, volume, n)
    assert_same(values, naive_windows([flow, volume], n, ratio), rtol=1e-9, atol=1e-12)
    assert np.isnan(probe) or not np.isnan(values[n - 1:]).any()  # support.window's `summed`


@SETTINGS
@given(data=st.data(), n=LENGTHS)
def test_cci(data, n) -> None:
    high, low, close, _ = bars(data)
    assert_same(sums.cci(high, low, close, n), _ref_cci(n, high, low, close), rtol=1e-9, atol=1e-9)


def bars(data) -> tuple[np.ndarray, ...]:
    """high, low, close, volume of the same length, each with its own missing values."""
    close = data.draw(series(), label="close")
    size = len(close)
    spread = np.abs(data.draw(series(missing=False, min_size=size, max_size=size), label="spread"))
    high = readonly(np.where(np.arange(size) % 7 == 3, NAN, close + spread))
    low = readonly(close - spread[::-1])
    volume = readonly(np.abs(data.draw(series(min_size=size, max_size=size), label="volume")))
    return high, low, close, volume


# ------------------------------------------------------------------ windows.py


@SETTINGS
@given(data=st.data(), n=LENGTHS)
def test_range_position_and_the_stochastic(data, n) -> None:
    high, low, close, _ = bars(data)
    assert_same(windows.range_position(close, high, low, n, False), _ref_stochastic(close, high, low, n),
                rtol=1e-12)
    assert_same(windows.range_position(close, high, low, n, True), _ref_willr(n, high, low, close), rtol=1e-12)
    smooth_k, smooth_d = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 12))
    expected = _ref_stoch(n, smooth_k, smooth_d, high, low, close)
    for field in ("k", "d"):
        got = windows.stochastic(close, high, low, n, smooth_k, smooth_d, field == "d")
        assert_same(got, expected[field], rtol=1e-12, atol=1e-12)


@SETTINGS
@given(data=st.data(), n=st.integers(0, 30))
def test_few_bar_formulas(data, n) -> None:
    high, low, close, _ = bars(data)
    ranges, total = windows.true_range(high, low, close)
    assert_same(ranges, naive_true_range(high, low, close))
    assert np.isnan(total) == np.isnan(ranges[1:]).any()  # support.window's `summed`
    if n:
        changes, total = windows.rate_of_change(close, n)
        assert_same(changes, _ref_roc(close, n))
        assert np.isnan(total) or not np.isnan(changes[n:]).any()  # support.window's `summed`
    powers, total = windows.balance_of_power(low, high, low, close)
    assert_same(powers, _ref_bop(low, high, low, close))
    assert np.isnan(total) == np.isnan(powers).any()
    typical, total = windows.typical_price(high, low, close)
    assert_same(typical, (high + low + close) / 3)  # hlc3, as Polars adds it
    assert np.isnan(total) or not np.isnan(typical).any()


@SETTINGS
@given(x=series(), n=st.integers(2, 30))
def test_linreg_equals_a_least_squares_fit_of_each_window(x, n) -> None:
    expected = _ref_linreg(x, n)
    atol = 1e-12 * scale_of(x)
    for code, field in enumerate(("value", "slope", "intercept")):
        values, probe = windows.linreg(x, n, code)
        assert_same(values, expected[field], rtol=1e-9, atol=atol)
        assert_vouches(values, probe, x, n)


@SETTINGS
@given(x=series(), n=st.integers(1, FRESH_TRIMA + 4))
def test_trima_by_weights_or_by_block_sums_is_the_mean_of_the_mean(x, n) -> None:
    """TRIMA's lowering: one weighted sum up to FRESH_TRIMA bars, the block sums above."""
    got = pl.DataFrame({"x": pl.Series(x, nan_to_null=True)}).select(_trima(pl.col("x"), n)).to_series()
    assert_same(got.fill_null(NAN).to_numpy(), _ref_trima(x, n), rtol=1e-12, atol=1e-12 * scale_of(x))


@SETTINGS
@given(x=series(), n=LENGTHS)
def test_weighted_sum(x, n) -> None:
    weights = readonly(np.arange(1.0, n + 1))
    divisor = n * (n + 1) / 2
    values, probe = windows.weighted_sum(x, weights, divisor)
    assert_same(values, windows_of(x, n, lambda w: float(w @ weights) / divisor))
    assert_vouches(values, probe, x, n)


@SETTINGS
@given(x=series(), n=LENGTHS)
def test_hull_is_its_three_weighted_sums(x, n) -> None:
    """hma's kernel against the three WMA kernels and numpy's `2.0 * a - b`, as the lowering
    took them before: the same operations in the same order, so bit for bit."""
    half, root = max(1, n // 2), max(1, math.isqrt(n))
    def wma(values: np.ndarray, length: int) -> np.ndarray:
        return windows.weighted_sum(readonly(values), readonly(np.arange(1.0, length + 1)), length * (length + 1) / 2)[0]
    values, probe = windows.hull(x, half, n, root, np.empty(len(x)))
    assert_same(values, wma(2.0 * wma(x, half) - wma(x, n), root))
    assert_vouches(values, probe, x, n + root - 1)


@pytest.mark.parametrize("n", [2, 20, 100, 3000])
def test_hull_carries_its_inner_values_across_blocks(n) -> None:
    """Past one block of outputs (windows.BLOCK), with a missing bar on a block's edge: the
    outer WMA reads the combined values carried over from the block before."""
    x = np.round(np.random.default_rng(n).normal(0, 4, 3 * windows.BLOCK + 37)) / 8
    x[windows.BLOCK + n] = NAN
    half, root = max(1, n // 2), max(1, math.isqrt(n))
    def wma(values: np.ndarray, length: int) -> np.ndarray:
        return windows.weighted_sum(readonly(values), readonly(np.arange(1.0, length + 1)), length * (length + 1) / 2)[0]
    values, probe = windows.hull(readonly(x), half, n, root, np.empty(len(x)))
    assert_same(values, wma(2.0 * wma(x, half) - wma(x, n), root))
    assert np.isnan(probe)  # the missing bar
    values, probe = windows.hull(readonly(np.nan_to_num(x)), half, n, root, np.empty(len(x)))
    assert not np.isnan(probe) and not np.isnan(values[n + root - 2:]).any()


# ------------------------------------------------------------------ support.window's warm-up


def test_a_window_over_a_nested_indicator_equals_the_kernel_on_all_bars() -> None:
    """Inputs missing on the same leading bars go to the kernel without them (a view); inputs
    missing on different bars go with NaN. Both answer as the kernel on every bar."""
    rng = np.random.default_rng(5)
    close = np.round(100 + np.cumsum(rng.normal(0, 1, 300)), 3)
    high, low = close + rng.uniform(0, 1, 300), close - rng.uniform(0, 1, 300)
    frame = pl.DataFrame({"timestamp": pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 13, 11),
                                                         "1h", eager=True, time_zone="UTC").cast(pl.Datetime("ms", "UTC")),
                          "open": close, "high": high, "low": low, "close": close, "volume": np.ones(300)})
    source = "a = sum(sma(close, 5), 12)\nb = tr(high, low, (close)[3])\nc = tr(sma(high, 4), sma(low, 4), sma(close, 4))\n"
    got = compile_source(source, "nested.tbs", series=["a", "b", "c"]).plan.evaluate(frame)
    mean = sums.rolling_sum(readonly(close), 5, 5.0)
    expected = {"a": sums.rolling_sum(readonly(mean), 12, 1.0),
                "b": windows.true_range(readonly(high), readonly(low), readonly(lag(close, 3)))[0],
                "c": windows.true_range(*(readonly(sums.rolling_sum(readonly(v), 4, 4.0)) for v in (high, low, close)))[0]}
    for name, values in expected.items():  # the blocks start elsewhere on a view: other roundings
        assert_same(got[name].cast(pl.Float64).fill_null(NAN).to_numpy(), values, rtol=1e-12)


@SETTINGS
@given(data=st.data(), n=st.integers(1, extremes.DOUBLING + 6), highest=st.booleans())
def test_rolling_extreme_values_equal_a_naive_window(data, n, highest) -> None:
    """The growing windows (up to DOUBLING bars) and the blocks (above), across several of the
    growing windows' chunks (CHUNK outputs): a chunk with a missing value takes the passes that
    keep it, the others not, so missing values sit in some chunks only."""
    size = data.draw(st.integers(0, 3 * extremes.CHUNK + 40), label="size")
    x = np.round(np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed")).normal(0, 4, size)) / 8
    for index in data.draw(st.lists(st.integers(0, max(size - 1, 0)), max_size=3), label="missing") if size else []:
        x[index] = NAN
    x = readonly(x)
    got = extremes.rolling_extreme(x, n, highest, False)
    assert_same(got, windows_of(x, n, np.max if highest else np.min))
    into = np.empty(size)
    values, probe = extremes.extreme_values(x, n, highest, into)  # support.window's `summed` and `into`
    assert_same(values, got)
    assert values is into or np.shares_memory(values, into)
    if not np.isnan(probe):  # it vouches that no value after the window's warm-up is NaN
        assert not np.isnan(values[n - 1:]).any()
    assert np.isnan(probe) <= np.isnan(x).any()  # and fails only on a NaN


@pytest.mark.parametrize("highest", [True, False])
def test_every_growing_window_length_equals_a_naive_window(highest: bool) -> None:
    """Each length up to DOUBLING takes its own mix of passes (fours, then a pair, then two
    overlapping windows), in a chunk with a missing value and in chunks without."""
    x = np.round(np.random.default_rng(7).normal(0, 4, 2 * extremes.CHUNK + 90)) / 8
    x[extremes.CHUNK + 70] = NAN
    x = readonly(x)
    for n in range(1, extremes.DOUBLING + 1):
        values, _ = extremes.extreme_values(x, n, highest, np.empty(len(x)))
        assert_same(values, windows_of(x, n, np.max if highest else np.min))


@SETTINGS
@given(data=st.data(), n=st.integers(1, extremes.DOUBLING + 6))
def test_channel_middle_is_the_mean_of_the_naive_extremes(data, n) -> None:
    """donchian's middle line, both extremes in one kernel, over several chunks and past the
    growing windows' longest; missing values in either series, in some chunks only."""
    size = data.draw(st.integers(0, 3 * extremes.CHUNK + 40), label="size")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    high, low = (np.round(rng.normal(0, 4, size)) / 8 for _ in range(2))
    for values in (high, low):
        for index in data.draw(st.lists(st.integers(0, max(size - 1, 0)), max_size=2), label="missing") if size else []:
            values[index] = NAN
    got, probe = extremes.channel_middle(readonly(high), readonly(low), n, np.empty(len(high)))
    assert_same(got, (windows_of(high, n, np.max) + windows_of(low, n, np.min)) / 2)
    assert np.isnan(probe) or not np.isnan(got[n - 1:]).any()  # support.window's `summed`


@SETTINGS
@given(x=series(), n=st.integers(1, 30), highest=st.booleans())
def test_bars_since_the_extreme(x, n, highest) -> None:
    # The series' k/8 grid makes ties common: the newest of equal extremes counts.
    got = extremes.rolling_extreme(x, n, highest, True)
    assert_same(got, naive_bars_since_extreme(x, n, highest=highest))


@SETTINGS
@given(x=series(), n=st.integers(0, 90), missing_as_null=st.booleans())
def test_difference_equals_the_bar_minus_the_bar_n_before(x, n, missing_as_null) -> None:
    """support.difference (mom, change): a kernel when nothing is missing, Polars' shift
    otherwise; a result that is not a number (from a NaN value, or inf - inf) is missing, never
    NaN."""
    column = pl.Series(x, nan_to_null=missing_as_null)
    got = pl.DataFrame({"x": column}).select(difference(pl.col("x"), n)).to_series()
    assert got.dtype == pl.Float64 and len(got) == len(x)
    expected = np.asarray(x) - lag(x, n)
    assert_same(got.fill_null(NAN).to_numpy(), expected)
    assert not got.is_nan().fill_null(False).any()
    # the missing bars are exactly the first n and those whose difference is not a number
    assert got.null_count() == min(n, len(x)) + int(np.isnan(expected[n:]).sum())


def test_trix_is_missing_after_a_missing_bar() -> None:
    """TRIX is one kernel that skips missing bars, but its rate of change reads the bar before:
    after a missing bar it is missing, as the reference's window over the triple EMA is."""
    rng = np.random.default_rng(11)
    values = 100 + np.cumsum(rng.normal(0, 1, 120))
    values[[40, 41, 77]] = NAN
    frame = pl.DataFrame({"x": pl.Series(values, nan_to_null=True)})
    got = frame.select(_trix(pl.col("x"), 4)).to_series().fill_null(NAN).to_numpy()
    expected = _ref_trix(values, 4)
    assert np.isnan(got[[42, 78]]).all() and not np.isnan(got[[43, 79]]).any()  # fails if gaps is dropped
    assert_same(got, expected, rtol=1e-12)


# ------------------------------------------------------------------ kernels.py and wilder.py


def ema_levels(x: np.ndarray, n: int, depth: int) -> list[np.ndarray]:
    """ema(x), ema(ema(x)), ... each by the plain EMA kernel on the values before it."""
    levels, below = [], x
    for _ in range(depth):
        level = np.full(len(x), NAN)
        start = int(np.argmax(~np.isnan(below))) if (~np.isnan(below)).any() else len(x)
        level[start:] = kernels.ema(readonly(below[start:]), n, n)[0]
        levels.append(level)
        below = level
    return levels


@SETTINGS
@given(x=series(missing=False), n=st.integers(1, 12))
def test_ema_combinations_equal_chained_emas(x, n) -> None:
    e1, e2, e3 = ema_levels(x, n, 3)
    dema = kernels.ema_combination(x, n, readonly([2.0, -1.0]))[0]
    tema = kernels.ema_combination(x, n, readonly([3.0, -3.0, 1.0]))[0]
    assert_same(dema, 2.0 * e1 - e2)
    assert_same(tema, 3.0 * e1 - 3.0 * e2 + e3)
    assert_same(kernels.ema_combination(x, n, readonly([0.0, 0.0, 1.0]))[0], e3)
    assert_same(kernels.trix(x, n)[0], _ref_roc(e3, 1))


@SETTINGS
@given(x=series(missing=False), lengths=st.lists(st.integers(1, 12), min_size=3, max_size=3))
def test_macd_and_price_oscillators_equal_their_emas(x, lengths) -> None:
    fast, slow, signal = min(lengths[:2]), max(lengths[:2]), lengths[2]
    line = kernels.ema(x, fast, slow)[0] - kernels.ema(x, slow, slow)[0]
    trigger = np.full(len(x), NAN)
    if len(x) >= slow:
        trigger[slow - 1:] = kernels.ema(readonly(line[slow - 1:]), signal, signal)[0]
    gate = np.isnan(trigger)
    for field, expected in enumerate((line, trigger, line - trigger)):
        assert_same(kernels.macd(x, fast, slow, signal, field)[0], np.where(gate, NAN, expected))
    quick, base = kernels.ema(x, fast, fast)[0], kernels.ema(x, slow, slow)[0]
    assert_same(kernels.price_oscillator(x, fast, slow, False)[0], quick - base)
    with np.errstate(all="ignore"):
        ppo = np.where(np.abs(base) >= 1e-14, (quick - base) / base * 100.0, 0.0)
    assert_same(kernels.price_oscillator(x, fast, slow, True)[0], np.where(np.isnan(base), NAN, ppo))


@SETTINGS
@given(data=st.data(), n=st.integers(1, 20))
def test_natr_is_atr_over_close(data, n) -> None:
    close = data.draw(series(missing=False), label="close")
    high, low = readonly(close + 1.0), readonly(close - 0.5)
    average = wilder.atr(high, low, close, n)[0]
    with np.errstate(all="ignore"):
        expected = np.where(close != 0, average / close * 100.0, 0.0)
    assert_same(wilder.natr(high, low, close, n)[0], np.where(np.isnan(average), NAN, expected))


@SETTINGS
@given(data=st.data(), column=st.sampled_from(["high", "low", "close", "none"]), n=st.integers(1, 6),
       atr_length=st.integers(1, 6))
def test_keltner_lines_are_the_ema_and_the_atr_each_over_its_own_bars(data, column, n, atr_length) -> None:
    """wilder.keltner runs the EMA and the ATR in one pass over bars with every input; with a
    missing high, low or close, the EMA skips only a missing close and the ATR any missing
    input (support.kernel's `apart`), as the reference evaluator computes them."""
    close = data.draw(series(missing=False, min_size=1), label="close")
    values = {"high": close + 1.5, "low": close - 1.0, "close": close.copy()}
    if column != "none":
        for index in data.draw(st.lists(st.integers(0, len(close) - 1), max_size=2), label="missing"):
            values[column][index] = NAN
    size = len(close)
    stamps = pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1) + pl.duration(hours=size - 1),
                               "1h", eager=True, time_zone="UTC").cast(pl.Datetime("ms", "UTC"))
    bars = pl.DataFrame({"timestamp": stamps, "open": close, **{k: pl.Series(v, nan_to_null=True) for k, v in values.items()},
                         "volume": np.ones(size)})
    fields = ("upper", "middle", "lower")
    source = "".join(f"{f} = keltner({n}, 1.5, {atr_length}).{f}\n" for f in fields)
    got = compile_source(source, "keltner.tbs", series=list(fields)).plan.evaluate(bars)
    expected = _ref_keltner(n, 1.5, atr_length, values["high"], values["low"], values["close"])
    for field in fields:
        assert_same(got[field].fill_null(NAN).to_numpy(), expected[field], rtol=1e-12, atol=1e-12 * scale_of(close))


PROBED = ("ema(close, 3)", "ema(close, 1)", "t3(close, 2, 0.7)", "atr(3)", "natr(3)", "ad()", "adosc(2, 4)",
          "dema(close, 2)", "trix(close, 2)", "trix(close, 1)", "macd(close, 2, 3, 2).hist", "ppo(close, 2, 3)",
          "rsi(close, 3)", "cmo(close, 2)", "keltner(2, 2, 3).upper", "keltner(3, 1.5, 1).lower", "kama(close, 3)")


@SETTINGS
@given(data=st.data(), column=st.sampled_from(["high", "low", "close", "volume"]))
def test_a_nan_value_anywhere_in_a_probed_kernels_input_counts_as_missing(data, column) -> None:
    """A probed kernel (kernels.probe) reports a NaN in any input at any bar, including bars its
    arithmetic never reads (high and low of bar 0 for ATR, the last close), so a NaN value is
    skipped as a missing one is. Fails if a kernel's probe leaves out a bar."""
    size = data.draw(st.integers(1, 30), label="size")
    where = data.draw(st.integers(0, size - 1), label="where")
    close = 100.0 + np.arange(size) % 7
    values = {"open": close, "high": close + 1.5, "low": close - 1.0, "close": close, "volume": 1.0 + np.arange(size) % 5}
    stamps = pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1) + pl.duration(hours=size - 1),
                               "1h", eager=True, time_zone="UTC").cast(pl.Datetime("ms", "UTC"))
    with_nan, with_null = dict(values), dict(values)
    with_nan[column] = np.where(np.arange(size) == where, NAN, values[column])
    with_null[column] = pl.Series(with_nan[column], nan_to_null=True)
    source = "".join(f"x{i} = {expression}\n" for i, expression in enumerate(PROBED))
    plan = compile_source(source, "probed.tbs", series=[f"x{i}" for i in range(len(PROBED))]).plan
    got = plan.evaluate(pl.DataFrame({"timestamp": stamps, **with_nan}))
    expected = plan.evaluate(pl.DataFrame({"timestamp": stamps, **with_null}))
    for i, expression in enumerate(PROBED):
        assert_same(got[f"x{i}"].fill_null(NAN).to_numpy(), expected[f"x{i}"].fill_null(NAN).to_numpy()), expression


# Kernels that vouch for their own results (support's `summed`): Polars gets their array as it is.
SUMMED = ("tr()", "atr(3)", "atr(1)", "natr(3)", "natr(1)", "bop()", "sma(tr(), 2)", "atr(2) + 1",
          "ema(close, 2)", "ema(close, 1)", "ema(high - low, 3)", "ema(tr(), 2)", "ad()",
          "kama(close, 2)", "kama(close, 1)", "adosc(1, 2)", "adosc(2, 3)", "highest(high, 3)",
          "lowest(low, 1)", "lowest(close, 4)", "sma(close, 3)", "sma(high, 12)", "sum(volume, 1)",
          "sum(low, 9)", "wma(close, 3)", "wma(high, 1)", "linreg(close, 2).value", "linreg(low, 3).slope",
          "linreg(close, 4).intercept", "trima(close, 5)", "hma(close, 4)", "dema(close, 2)",
          "tema(close, 1)", "tema(high, 3)", "trix(close, 2)", "trix(close, 1)", "macd(close, 2, 3, 2).macd",
          "macd(close, 1, 2, 1).signal", "macd(close, 2, 4, 2).hist", "apo(close, 2, 3)", "ppo(close, 1, 3)",
          "t3(close, 2, 0.7)", "t3(close, 1, 0.7)", "rsi(close, 2)", "rsi(close, 1)", "cmo(close, 3)")


@SETTINGS
@given(data=st.data())
def test_results_handed_over_without_a_pass_equal_their_copy(data) -> None:
    """A kernel's result goes to Polars as it is (no NaN-to-null pass) only when the kernel's own
    sum of its results says none is NaN. With missing bars, NaN values, infinities (inf - inf in
    a range) and overflowing values (inf / inf in bop) in the bars, the plan must give the same
    values and the same missing bars as with every result copied by `nan_to_null`, and never a
    NaN as a value. Fails if a kernel's sum leaves out a result."""
    size = data.draw(st.integers(1, 30), label="size")
    close = 100.0 + np.arange(size) % 7
    values = {"open": close - 0.5, "high": close + 1.5, "low": close - 1.0, "close": close.copy(),
              "volume": 1.0 + np.arange(size) % 3}
    odd = st.sampled_from([NAN, np.inf, -np.inf, 1e308, -1e308, None])
    changes = data.draw(st.lists(st.tuples(st.sampled_from(sorted(values)), st.integers(0, size - 1), odd),
                                 max_size=3), label="changes")
    missing = {column: np.zeros(size, dtype=bool) for column in values}
    for column, index, value in changes:
        values[column][index] = NAN if value is None else value
        missing[column][index] = value is None
    stamps = pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1) + pl.duration(hours=size - 1),
                               "1h", eager=True, time_zone="UTC").cast(pl.Datetime("ms", "UTC"))
    columns = {c: pl.Series(v).scatter(np.flatnonzero(missing[c]), None) for c, v in values.items()}
    bars = pl.DataFrame({"timestamp": stamps, **columns})
    names = [f"x{i}" for i in range(len(SUMMED))]
    plan = compile_source("".join(f"{n} = {e}\n" for n, e in zip(names, SUMMED)), "summed.tbs", series=names).plan
    got = plan.evaluate(bars)
    copy = support._with_warmup
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(support, "_with_warmup", lambda first, values, clean=False: copy(first, values))
        expected = plan.evaluate(bars)
    for name, expression in zip(names, SUMMED):
        assert not got[name].is_nan().fill_null(False).any(), f"NaN as a value: {expression}"
        assert got[name].is_null().equals(expected[name].is_null()), expression
        assert got[name].equals(expected[name]), expression


def test_natr_over_an_infinite_close_is_missing_where_nan() -> None:
    """natr(3) with close -inf on bars 4 and 5: the probe is -inf, not NaN, yet bar 5's ATR is
    inf (a range from a close of -inf) and inf / -inf is NaN; only a finite probe vouches for
    the results. Hand-worked: every range 2.5 until then, so [missing x3, 2.5 / 103 * 100,
    2.5 / -inf * 100 = -0, missing, inf / 106 = inf]."""
    close = np.array([100.0, 101, 102, 103, -np.inf, -np.inf, 106])
    base = np.arange(100.0, 107.0)
    stamps = pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1, 6), "1h", eager=True,
                               time_zone="UTC").cast(pl.Datetime("ms", "UTC"))
    bars = pl.DataFrame({"timestamp": stamps, "open": close, "high": base + 1.5, "low": base - 1.0,
                         "close": close, "volume": np.ones(7)})
    got = compile_source("x = natr(3)\n", "natr.tbs", series=["x"]).plan.evaluate(bars)["x"]
    assert got.is_null().to_list() == [True, True, True, False, False, True, False]
    assert got[3] == 2.5 / 103 * 100 and got[4] == 0.0 and got[6] == np.inf


def test_an_ema_whose_step_overflows_is_missing_after_it_not_nan() -> None:
    """ema(close, 2) over 1.6e308, 1e307, -1.7e308, 1, 2: the seed is 8.5e307, the next step
    -1.7e308 - 8.5e307 overflows to -inf, the one after is inf - inf, NaN from numbers whose sum
    (3) is finite. The kernel's probe takes in its last result, so the NaN bars are missing, as
    with a copy by nan_to_null (hand-worked: [missing, 8.5e307, -inf, missing, missing])."""
    close = np.array([1.6e308, 1e307, -1.7e308, 1.0, 2.0])
    stamps = pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1, 4), "1h", eager=True,
                               time_zone="UTC").cast(pl.Datetime("ms", "UTC"))
    bars = pl.DataFrame({"timestamp": stamps, "open": close, "high": close, "low": close, "close": close,
                         "volume": np.ones(5)})
    got = compile_source("x = ema(close, 2)\n", "overflow.tbs", series=["x"]).plan.evaluate(bars)["x"]
    assert got.is_null().to_list() == [True, False, False, True, True]
    assert got[1] == (1.6e308 + 1e307) / 2 and got[2] == -np.inf


@pytest.mark.parametrize("expression, expected", [("rsi(close, 1)", [None, 100.0, 0.0, None, 0.0]),
                                                  ("cmo(close, 1)", [None, 100.0, -100.0, None, 0.0])])
def test_an_oscillator_result_that_is_nan_from_finite_numbers_is_missing(expression, expected) -> None:
    """rsi/cmo(close, 1) over 1, 2, -1e308, 1e308, 3: the change into bar 3 overflows to inf,
    so that bar's gain is inf and its loss 0 (one bar's average: the change itself), and its
    result inf / inf is NaN, from numbers whose sum (3) is finite. The kernels' probe takes in
    every result, so the bar is missing; a probe of the inputs alone would hand the NaN over
    as a value. Bar 4: the gain inf * 0 is NaN, no movement by TA-Lib's test, 0. Hand-worked."""
    close = np.array([1.0, 2.0, -1e308, 1e308, 3.0])
    stamps = pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1, 4), "1h", eager=True,
                               time_zone="UTC").cast(pl.Datetime("ms", "UTC"))
    bars = pl.DataFrame({"timestamp": stamps, "open": close, "high": close, "low": close, "close": close,
                         "volume": np.ones(5)})
    got = compile_source(f"x = {expression}\n", "overflow.tbs", series=["x"]).plan.evaluate(bars)["x"]
    assert got.to_list() == expected


@SETTINGS
@given(data=st.data(), column=st.sampled_from(["close", "volume", "high", "low"]))
def test_ad_and_adosc_see_a_nan_on_a_flat_bar(data, column) -> None:
    """AD and ADOSC's probe is their running total (kernels.flow): on a bar whose high equals its
    low, which adds nothing, a NaN close or volume must still reach it (ADOSC from its first
    output on: with fewer bars its answer is all missing either way)."""
    size = data.draw(st.integers(3, 30), label="size")
    where = data.draw(st.integers(0, size - 1), label="where")
    close = 100.0 + np.arange(size) % 7
    high, low = close + 1.5, close - 1.0
    high[where] = low[where] = close[where]
    values = {"high": high, "low": low, "close": close, "volume": 1.0 + np.arange(size) % 5}
    values[column] = np.where(np.arange(size) == where, NAN, values[column])
    for fn, args in ((wilder.running_flow, ()), (kernels.adosc, (2, 3))):
        fast, probe = fn(*(readonly(values[c]) for c in ("high", "low", "close", "volume")), *args)
        assert np.isnan(probe), (fn.__name__, column, where)


@SETTINGS
@given(x=series(), special=st.lists(st.sampled_from([np.inf, -np.inf, 1e300, -1e300]), max_size=3))
def test_any_nan_finds_exactly_the_missing_values(x, special) -> None:
    # support.kernel's choice between a view of the data and dropping the missing bars: an
    # infinity or a square that overflows must not count as missing, and every NaN must.
    values = np.concatenate([x, special])
    assert kernels.any_nan(readonly(values)) == bool(np.isnan(values).any())


@SETTINGS
@given(x=series(), step=st.integers(1, 3), start=st.integers(0, 3), nan_to_null=st.booleans(),
       as_int=st.booleans())
def test_a_kernel_result_becomes_the_series_pl_series_makes_and_joins_as_pl_concat(x, step, start, nan_to_null, as_int) -> None:
    # support._series builds a kernel's result with Polars' own constructor, skipping the checks
    # pl.Series makes first: for any array (strided, offset, another dtype) it answers as pl.Series.
    values = np.nan_to_num(x).astype(np.int64) if as_int else x[start::step]
    got = support._series(values, nan_to_null=nan_to_null)
    assert got.equals(pl.Series(values, nan_to_null=nan_to_null), check_dtypes=True, check_names=True)
    if not as_int and step == 1:
        assert np.shares_memory(got.to_numpy(), values) or nan_to_null or not len(values)
    for count in (1, start + 5, 5000) if not as_int else ():  # support._behind_nulls' join
        head = support._nulls(count)
        joined, expected = support._join(head, got), pl.concat([head, got], rechunk=False)
        assert joined.equals(expected, check_dtypes=True) and joined.n_chunks() == expected.n_chunks()


@pytest.mark.parametrize("expression", ["tr()", "atr(14)", "mom(close, 3)", "hour", "linreg(close, 5).slope",
                                        # a recursion: its struct column comes from stateful/lowering.py's UDF
                                        "if close > close[1] then x[1] + 1 else 0 starting 0"])
def test_evaluating_a_kernel_raises_no_type_error_internally(expression) -> None:
    # Polars passes a UDF its return_dtype as a keyword and retries without it on a TypeError:
    # a run() refusing the keyword paid a raised exception on every evaluation. A plan of one
    # column (no signal columns: bench_indicators' plan) runs its UDF on the calling thread,
    # where sys.settrace sees it.
    checked = compile_source(f"x = {expression}\n", "raises.tbs", series=["x"]).checked
    plan = compile_program(checked, series=["x"], signals=False)
    size = 40
    bars = pl.DataFrame({"timestamp": pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 2, 15),
                                                        "1h", eager=True).cast(pl.Datetime("ms"))[:size],
                         **{c: 100.0 + np.arange(size) % 7 for c in ("open", "high", "low", "close")},
                         "volume": np.ones(size)})
    plan.evaluate(bars)  # imports and compiles outside the trace
    raised: list[str] = []
    ran: list[str] = []

    def trace(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "run":
            ran.append(frame.f_code.co_filename)
        if event == "exception" and issubclass(arg[0], TypeError):  # (not os.environ's KeyError)
            raised.append(f"{arg[0].__name__} in {frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        return trace
    sys.settrace(trace)
    try:
        plan.evaluate(bars)
    finally:
        sys.settrace(None)
    assert ran, "the UDF ran on another thread: nothing traced"
    assert not raised, raised


@pytest.mark.parametrize("periods", [(7, 14, 28), (28, 1, 600)])
def test_ultosc_restarts_after_a_missing_bar_as_talib_on_each_run(periods) -> None:
    """ultosc takes SPAN bars at a time: a missing bar mid-span and runs of complete bars across
    span boundaries give, bar for bar, TA-Lib's ULTOSC on each run of complete bars."""
    talib = pytest.importorskip("talib")
    rng = np.random.default_rng(11)
    close = 100 + np.cumsum(rng.normal(0, 1, 4 * windows.SPAN + 37))
    high, low = close + rng.random(len(close)), close - rng.random(len(close))
    gap = windows.SPAN + 200
    high_with_gap = high.copy()
    high_with_gap[gap] = NAN  # bar `gap` is missing; the next bar's previous close is not
    got, total = windows.ultosc(readonly(high_with_gap), readonly(low), readonly(close), *periods)
    before = talib.ULTOSC(high[:gap], low[:gap], close[:gap], *periods)
    after = talib.ULTOSC(high[gap:], low[gap:], close[gap:], *periods)  # its first bar: a previous close only
    assert_same(got, np.concatenate([before, after]), rtol=1e-12)  # TA-Lib divides by 7 first
    assert np.isnan(got[gap])
    assert np.isnan(total)  # support.window's `summed`: the NaN after the gap are reported
    whole, total = windows.ultosc(readonly(high), readonly(low), readonly(close), *periods)
    assert total == pytest.approx(np.nansum(whole), rel=1e-9)  # no NaN after the warm-up: vouched


def test_ultosc_vouches_only_for_its_outputs_from_the_first_one_on() -> None:
    # Shorter than one span, and no output at all: nothing to vouch against.
    high, low, close = (readonly(np.array(v)) for v in ([3.0, 4.0, 5.0], [1.0, 2.0, 2.5], [2.0, 3.0, 4.0]))
    values, total = windows.ultosc(high, low, close, 7, 14, 28)
    assert np.isnan(values).all() and total == 0.0
