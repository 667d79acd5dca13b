"""Checks of a checked script against the data it is about to run on, before the run.

The checker sees only the script; some mistakes show only next to the data:

- an `expr @ timeframe` the data's interval cannot build (`@ 30m` on hourly bars) - an error at
  the `@` expression's line, instead of the plan's failure mid-run;
- a constant price distance in a risk statement that the data's prices make implausible
  (`trailing_stop long 2` meant as 2 % on EUR/USD at 1.2): a warning, since a large distance may
  be intended, but a silent one never fires.

`data_diagnostics` returns both kinds; the caller raises the errors and prints the warnings.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ..market.timeframe import infer_interval_ms
from . import ir
from .checker import CheckedProgram
from .diagnostics import Diagnostic
from .risk_check import RiskLevel
from .timeframes import timeframe_diagnostics

# A stop, target or trail further than this fraction of the typical price is almost surely a
# percentage written without `%` (a 50 % stop is already a ruin, not a stop).
IMPLAUSIBLE_FRACTION = 0.5


@dataclass(frozen=True)
class PriceScale:
    """What the data's prices look like: their whole range and their median close."""

    low: float
    high: float
    median: float

    @classmethod
    def of(cls, bars: pl.DataFrame) -> PriceScale:
        return cls(float(bars["low"].min()), float(bars["high"].max()), float(bars["close"].median()))


def data_diagnostics(checked: CheckedProgram, bars: pl.DataFrame) -> list[Diagnostic]:
    """Errors (timeframes) and warnings (risk distances) of `checked` on `bars`."""
    roots = [*checked.series.values(), *checked.signals.values(), *_risk_values(checked)]
    # Only an `@ timeframe` needs the data's interval (a pass over every timestamp).
    resamples = any(isinstance(node, ir.Resample) for node in ir.walk(*roots))
    interval = infer_interval_ms(bars["timestamp"].dt.epoch("ms").to_numpy()) if resamples else None
    found = timeframe_diagnostics(roots, interval) if resamples else []
    if bars.height and _constant_distances(checked):  # the median is a sort of every close
        found += distance_warnings(checked, PriceScale.of(bars))
    return found


def _constant_distances(checked: CheckedProgram) -> list[tuple[str, str, RiskLevel]]:
    """(side, level name, level) of every risk level written as a constant price distance."""
    return [(side, name, level) for side in ("long", "short")
            for name, level in checked.risk.side(side).levels.items()
            if level.mode == "distance" and isinstance(level.value, ir.Const)]


def distance_warnings(checked: CheckedProgram, scale: PriceScale) -> list[Diagnostic]:
    """A warning for each constant price distance the data's prices make implausible."""
    warnings = []
    for side, name, level in _constant_distances(checked):
        distance = float(level.value.value)  # type: ignore[arg-type]
        reason = _implausible(distance, scale)
        if reason is None:
            continue
        span = level.value.span if level.value.span.end > level.value.span.start else level.span
        written = checked.source[span.start:span.end] or f"{distance:g}"
        shown = written if written == f"{distance:g}" or _is_number(written) else f"{written} = {distance:g}"
        warnings.append(Diagnostic(f"`{name}` of {side}s is a price distance of {shown}, {reason}",
                                   span, _percent_hint(written), severity="warning"))
    return warnings


def _implausible(distance: float, scale: PriceScale) -> str | None:
    width = scale.high - scale.low
    if distance > width:
        return (f"more than the data's whole price range ({scale.low:.6g} to {scale.high:.6g}): "
                f"it can never be reached on this data")
    if np.isfinite(scale.median) and distance > IMPLAUSIBLE_FRACTION * scale.median:
        return f"more than half the data's median price ({scale.median:.6g})"
    return None


def _percent_hint(written: str) -> str:
    if _is_number(written):
        return f"write `{written}%` for a percentage of the entry price"
    # a param: the percentage belongs in its declaration
    return f"for a percentage of the entry price, give `{written}` a `%` (`param {written} = 2% in 1%..5%`)"


def _is_number(text: str) -> bool:
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True


def _risk_values(checked: CheckedProgram) -> list[ir.Node]:
    values = []
    for side in ("long", "short"):
        risk = checked.risk.side(side)
        values += [level.value for level in risk.levels.values()]
        if risk.entry is not None:
            values.append(risk.entry.price)
    return values
