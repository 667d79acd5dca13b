"""Element-wise math: abs, min, max, log, exp, sqrt, round, floor, ceil, clip, sign, nz.

Missing values propagate (a missing input gives a missing output), except in `nz`, which exists to
replace them. Results that are not real numbers (log of 0, sqrt of -1) are missing, never NaN.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from ..builtin_spec import ParamSpec, indicator, series
from ..types import ArgKind

CATEGORY = "math"


def _missing_if_any(result: pl.Expr, *inputs: pl.Expr) -> pl.Expr:
    # Polars' horizontal min/max skip nulls; .tbs says a missing input makes a missing result.
    missing = inputs[0].is_null()
    for other in inputs[1:]:
        missing = missing | other.is_null()
    return pl.when(missing).then(None).otherwise(result)


def _real(expr: pl.Expr) -> pl.Expr:
    return expr.fill_nan(None)


def _np(x):
    return np.asarray(x, dtype=float)


def _elementwise(name, params, lower, reference, doc, example, source):
    return indicator(name, params, lower, reference, doc=doc, example=example,
                     category=CATEGORY, elementwise=True, source=source)


_EXP_MAX = float(np.log(np.finfo(np.float64).max))  # exp of anything larger overflows to inf


def _ref_exp(x):
    x = _np(x)
    with np.errstate(over="ignore"):
        return np.where(x <= _EXP_MAX, np.exp(x), np.nan)


def _ref_round(x, digits):
    return np.round(_np(x), int(digits))


def _ref_nz(x, replacement):
    x = _np(x)
    return np.where(np.isnan(x), replacement, x)


BUILTINS = (
    _elementwise("abs", (series("x"),), lambda x: x.abs(), lambda x: np.abs(_np(x)),
                 "Absolute value.", "abs(close - open)",
                 source="|x|"),
    _elementwise("min", (series("a"), series("b")),
                 lambda a, b: _missing_if_any(pl.min_horizontal(a, b), a, b),
                 lambda a, b: np.minimum(_np(a), _np(b)),
                 "The smaller of two values, bar by bar.", "min(open, close)",
                 source="the smaller value"),
    _elementwise("max", (series("a"), series("b")),
                 lambda a, b: _missing_if_any(pl.max_horizontal(a, b), a, b),
                 lambda a, b: np.maximum(_np(a), _np(b)),
                 "The larger of two values, bar by bar.", "max(open, close)",
                 source="the larger value"),
    _elementwise("log", (series("x"),), lambda x: _real(pl.when(x > 0).then(x).log()),
                 lambda x: np.log(np.where(_np(x) > 0, _np(x), np.nan)),
                 "Natural logarithm; missing where x <= 0.", "log(close / close[1])",
                 source="natural logarithm"),
    _elementwise("exp", (series("x"),), lambda x: pl.when(x <= _EXP_MAX).then(x.exp()), _ref_exp,
                 "e raised to x; missing where the result is too large to represent (x > 709.78).",
                 "exp(0.5)",
                 source="e^x"),
    _elementwise("sqrt", (series("x"),), lambda x: pl.when(x >= 0).then(x).sqrt(),
                 lambda x: np.sqrt(np.where(_np(x) >= 0, _np(x), np.nan)),
                 "Square root; missing where x < 0.", "sqrt(volume)",
                 source="square root"),
    _elementwise("round", (series("x"), ParamSpec("digits", ArgKind.INT, 0, "decimal places")),
                 lambda x, digits: x.round(int(digits)), _ref_round,
                 "Round half to even to `digits` decimal places.", "round(close, 2)",
                 source="round half to even (IEEE 754)"),
    _elementwise("floor", (series("x"),), lambda x: x.floor(), lambda x: np.floor(_np(x)),
                 "The largest whole number at or below x.", "floor(close / 10) * 10",
                 source="IEEE 754 floor (TradingView math.floor)"),
    _elementwise("ceil", (series("x"),), lambda x: x.ceil(), lambda x: np.ceil(_np(x)),
                 "The smallest whole number at or above x.", "ceil(volume / 100)",
                 source="IEEE 754 ceiling (math.ceil)"),
    _elementwise("clip", (series("x"), series("lo"), series("hi")),
                 lambda x, lo, hi: _missing_if_any(
                     pl.min_horizontal(pl.max_horizontal(x, lo), hi), x, lo, hi),
                 lambda x, lo, hi: np.minimum(np.maximum(_np(x), _np(lo)), _np(hi)),
                 "x limited to the range lo..hi.", "clip(rsi(close, 14), 20, 80)",
                 source="min(max(x, lo), hi)"),
    _elementwise("sign", (series("x"),), lambda x: x.sign().cast(pl.Float64),
                 lambda x: np.sign(_np(x)),
                 "-1, 0 or 1 by the sign of x.", "sign(close - close[1])",
                 source="-1, 0 or 1"),
    _elementwise("nz", (series("x"), ParamSpec("replacement", ArgKind.SERIES, 0.0,
                                                "the value (or series) used where x is missing")),
                 lambda x, replacement: x.fill_null(replacement), _ref_nz,
                 "x, with missing values (such as indicator warm-up) replaced.", "nz(close[1], open)",
                 source="TradingView nz"),
)
