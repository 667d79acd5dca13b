"""Infinities are numbers in .tbs (an overflow makes one), but what they make that is not a number
(inf - inf, 0 * inf, inf / inf) is *missing*, as the language promises for every result that is
not a real number, never a NaN value: Polars orders NaN above every number, so a NaN that reached
`x > 0` would be true and fire a rule that the naive reference (and the VM) leave silent.

Every operator and every builtin over a number series, compiled, on bars where infinities of
both signs meet: no NaN as a value, and missing exactly where the reference is."""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from tradebot.lang import reference
from tradebot.lang.builtins import REGISTRY
from tradebot.lang.types import ArgKind
from tradebot.pipeline import compile_source

NAN, INF = np.nan, np.inf

# Ordinary prices, then runs of +inf and -inf (so that a window or a difference sees inf - inf),
# a value near the largest float (so that a sum overflows) and ordinary prices again.
CLOSE = [100.0, 101, 102, INF, INF, 103, -INF, -INF, 104, 1e308, 1e308, 105, 106, 107, INF, -INF,
         108, 109, 110, 111, 112, 113, 114, 115, 116]


def bars() -> pl.DataFrame:
    close = np.array(CLOSE)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    stamps = pl.Series([start + dt.timedelta(hours=h) for h in range(len(close))]).cast(pl.Datetime("ms", "UTC"))
    return pl.DataFrame({"timestamp": stamps, "open": close, "high": close, "low": close, "close": close,
                         "volume": np.abs(close)})


ARGUMENTS = {ArgKind.SERIES: "close", ArgKind.LENGTH: "3", ArgKind.WINDOW: "3", ArgKind.INT: "2",
             ArgKind.NUMBER: "2", ArgKind.BOOL_SERIES: "close > open"}


def calls() -> list[str]:
    """A call of each builtin reading a number series (its required arguments only: the series
    is `close`, a length 3), one per field of a record."""
    found = []
    for name, builtin in sorted(REGISTRY.items()):
        required = [p for p in builtin.params if p.required]
        if builtin.category == "position" or builtin.is_series or any(p.kind not in ARGUMENTS for p in required):
            continue
        if not any(p.kind == ArgKind.SERIES for p in builtin.params):
            continue
        call = f"{name}({', '.join(ARGUMENTS[p.kind] for p in required)})"
        found += [f"{call}.{field}" for field in builtin.fields] if builtin.fields else [call]
    return found


OPERATIONS = ["close - close[3]", "close + close[1]", "close * 0", "close * (close - close[1])",
              "close / close[1]", "close % 7", "7 % close", "close ^ 0.5", "-close + close[1]",
              "(close - close[1]) > 0", "(close - close[1]) < 0", "(close - close[1]) == (close - close[1])",
              "nz(close - close[1], 5)", "max(close - close[1], 1)", "if close > 105 then close - close[1] else 0"]


def compiled_and_reference(expression: str) -> tuple[pl.Series, np.ndarray]:
    frame = bars()
    strategy = compile_source(f"x = {expression}\n", "inf.tbs", series=["x"])
    got = strategy.plan.evaluate(frame)["x"]
    with np.errstate(all="ignore"):
        expected = reference.evaluate(strategy.checked.series["x"], {c: frame[c].to_numpy() for c in frame.columns})
    return got, expected


@pytest.mark.parametrize("expression", OPERATIONS)
def test_an_operation_where_infinities_meet_is_missing_as_in_the_reference(expression: str) -> None:
    got, expected = compiled_and_reference(expression)
    if got.dtype == pl.Boolean:
        got = got.cast(pl.Float64)
    assert not got.is_nan().fill_null(False).any(), f"{expression}: NaN as a value"
    values = got.fill_null(NAN).to_numpy()
    assert (np.isnan(values) == np.isnan(expected)).all(), f"{expression}: missing bars differ from the reference"
    np.testing.assert_array_equal(values, expected)


def test_every_builtin_over_a_series_is_covered() -> None:
    names = {call.split("(")[0] for call in calls()}
    assert {"mom", "change", "cum", "pct_change", "zscore", "ichimoku", "sma", "stdev"} <= names
    assert len(names) >= 80


@pytest.mark.parametrize("call", calls())
def test_no_builtin_hands_over_nan_where_infinities_meet(call: str) -> None:
    """Each builtin's own rules for infinite input (TA-Lib's, a window's) stay its own: what is
    pinned is that a value is a number or missing, and missing where the reference's is NaN."""
    got, expected = compiled_and_reference(call)
    if got.dtype == pl.Boolean:
        got = got.cast(pl.Float64)
    assert not got.is_nan().fill_null(False).any(), f"{call}: NaN as a value"
    values = got.fill_null(NAN).to_numpy()
    assert not (np.isnan(expected) & ~np.isnan(values)).any(), f"{call}: a value where the reference is missing"
