"""The naive building blocks the library's reference implementations are written with: plain
numpy, bar by bar, following the missing-value rules support.py states (a window with a missing
bar is missing). The compiled side is tested against these (tests/lang/test_compiler_reference.py).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Sequence

import numpy as np


def arr(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def nan_array(size: int) -> np.ndarray:
    return np.full(size, np.nan)


def naive_window(x, n: int, fn: Callable[[np.ndarray], float]) -> np.ndarray:
    """fn over the last n values at every bar; missing if any of them is missing."""
    x = arr(x)
    out = nan_array(len(x))
    for t in range(n - 1, len(x)):
        window = x[t - n + 1: t + 1]
        if not np.isnan(window).any():
            out[t] = fn(window)
    return out


def naive_windows(arrays: Sequence[np.ndarray], n: int, fn: Callable[..., float], *,
                  at_bar: Sequence[np.ndarray] = ()) -> np.ndarray:
    """fn(*windows, *values) over the last n bars of several series, plus the bar's own value of
    each `at_bar` series (for formulas that read only that bar of it, as the stochastic reads
    its close); missing if any value read is missing."""
    arrays, points = [arr(a) for a in arrays], [arr(a) for a in at_bar]
    out = nan_array(len(arrays[0]))
    for t in range(n - 1, len(out)):
        windows = [a[t - n + 1: t + 1] for a in arrays]
        values = [p[t] for p in points]
        if not any(np.isnan(w).any() for w in windows) and not np.isnan(values).any():
            out[t] = fn(*windows, *values)
    return out


def naive_by_length(constant: Callable[..., np.ndarray], fn: Callable[[np.ndarray], float]):
    """A window builtin's reference: `constant(x, n)` for a constant length; for a series, fn
    over each bar's own window (the last floor(n[t]) bars; missing where n[t] is missing or
    below 1, where there are fewer bars, or where a bar of the window is missing)."""
    def reference(x, n):
        if not isinstance(n, np.ndarray):
            return constant(x, n)
        x, out = arr(x), nan_array(len(x))
        for t, length in enumerate(arr(n)):
            if np.isnan(length) or length < 1 or length >= t + 2:  # floor(length) > t + 1 bars
                continue
            window = x[t - int(np.floor(length)) + 1: t + 1]
            if not np.isnan(window).any():
                out[t] = fn(window)
        return out
    return reference


def lag(x, n: int) -> np.ndarray:
    """x shifted n bars later (missing for the first n bars)."""
    x = arr(x)
    out = nan_array(len(x))
    if n < len(x):
        out[n:] = x[: len(x) - n]
    return out


def fma_exact(a: float, b: float, c: float) -> float:
    """a * b + c rounded once (what TA-Lib's fma() computes), with exact rational arithmetic."""
    if not all(np.isfinite(v) for v in (a, b, c)):
        return a * b + c
    return float(Fraction(a) * Fraction(b) + Fraction(c))

