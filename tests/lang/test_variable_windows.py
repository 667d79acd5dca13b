"""Window lengths that are series (issue 13.3): highest, lowest, sum, sma and stdev over each bar's
own window, on hand-worked cases; a constant length keeps the block kernels (the same values as
before); the property tests (test_compiler_reference.py) draw series lengths too."""
from __future__ import annotations

import numpy as np
import pytest

from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.pipeline import compile_source

from .test_indicators_hand import evaluate, frame

NAN = np.nan
# windows of 1, 2, 3, 1, 2, 3, 1 bars
BARS = frame(close=[1, 5, 3, 4, 2, 6, 0], volume=[1, 2, 3, 1, 2, 3, 1])


@pytest.mark.parametrize("expression, expected", [
    ("highest(close, volume)", [1, 5, 5, 4, 4, 6, 0]),
    ("lowest(close, volume)", [1, 1, 1, 4, 2, 2, 0]),
    ("sum(close, volume)", [1, 6, 9, 4, 6, 12, 0]),
    ("sma(close, volume)", [1, 3, 3, 4, 3, 4, 0]),
    ("stdev(close, volume)", [0, 2, np.sqrt(8 / 3), 0, 1, np.sqrt(8 / 3), 0]),
    # a window that grows from the first bar: the running extreme
    ("highest(close, bar_index + 1)", [1, 5, 5, 5, 5, 6, 6]),
    # since the last bar whose close rose: windows 1, 1, 2, 1, 2, 1, 2
    ("lowest(close, barssince(close > close[1]) + 1)", [NAN, 5, 3, 4, 2, 6, 0]),
])
def test_windows_follow_each_bars_length(expression: str, expected: list[float]) -> None:
    np.testing.assert_allclose(evaluate(expression, BARS), expected)


def test_missing_windows() -> None:
    # a length below 1, missing, longer than the data so far, or reaching a missing value
    bars = frame(close=[1, 2, 3, 4, 5], volume=[1, 0, 3, 4, 2.9])
    np.testing.assert_allclose(evaluate("sum(close, volume)", bars), [1, NAN, 6, 10, 9])  # 2.9: 2 bars
    np.testing.assert_allclose(evaluate("sum(close, volume[1])", bars), [NAN, 2, NAN, 9, 14])
    np.testing.assert_allclose(evaluate("highest(close[2], 2 + volume * 0)", bars), [NAN, NAN, NAN, 2, 3])
    # a window of 2.5 bars is the last 2: it has a value from the second bar on
    np.testing.assert_allclose(evaluate("sum(close, 2.5 + volume * 0)", bars), [NAN, 3, 5, 7, 9])
    np.testing.assert_allclose(evaluate("lowest(close, 2.5 + volume * 0)", bars), [NAN, 1, 2, 3, 4])


def test_constant_lengths_keep_their_kernels_and_checks() -> None:
    np.testing.assert_allclose(evaluate("highest(close, 3)", BARS), [NAN, NAN, 5, 5, 4, 6, 6])
    with pytest.raises(ScriptDiagnostics) as caught:
        compile_source("enter long when close > highest(high, 0)\n", "c.tbs")
    assert "at least 1" in caught.value.diagnostics[0].message
    with pytest.raises(ScriptDiagnostics) as caught:
        compile_source("enter long when close > highest(high, close > open)\n", "c.tbs")
    assert "needs a number" in caught.value.diagnostics[0].message


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("longest", [40, 600])  # short windows are scanned, long ones searched on a stack
def test_the_extremes_kernel_equals_a_scan_of_each_window(seed: int, longest: int) -> None:
    """Long and short windows over a random walk with missing values: the kernel (a scan of each
    window when they are short, else a search of a stack galloping back from the newest bar)
    finds what numpy finds in each window."""
    from tradebot.lang.library import varwindows
    from tradebot.lang.library.varwindows import variable_extreme

    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=3_000))
    x[rng.random(3_000) < 0.01] = NAN
    lengths = np.where(rng.random(3_000) < 0.5, rng.integers(1, 8, 3_000), rng.integers(1, longest, 3_000))
    assert (varwindows._mean_length(lengths.astype(float)) <= varwindows.SCAN_UP_TO) == (longest == 40)
    lengths = lengths.astype(float) + rng.random(3_000)  # a fraction rounds down
    for highest, pick in ((True, np.max), (False, np.min)):
        expected = np.full(3_000, NAN)
        for t in range(3_000):
            window = x[t - int(lengths[t]) + 1:t + 1] if int(lengths[t]) <= t + 1 else x[:0]
            if len(window) and not np.isnan(window).any():
                expected[t] = pick(window)
        np.testing.assert_array_equal(variable_extreme(x, lengths, highest), expected)
