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


def test_constant_lengths_keep_their_kernels_and_checks() -> None:
    np.testing.assert_allclose(evaluate("highest(close, 3)", BARS), [NAN, NAN, 5, 5, 4, 6, 6])
    with pytest.raises(ScriptDiagnostics) as caught:
        compile_source("enter long when close > highest(high, 0)\n", "c.tbs")
    assert "at least 1" in caught.value.diagnostics[0].message
    with pytest.raises(ScriptDiagnostics) as caught:
        compile_source("enter long when close > highest(high, close > open)\n", "c.tbs")
    assert "needs a number" in caught.value.diagnostics[0].message
