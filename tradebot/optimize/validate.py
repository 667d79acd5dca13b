"""Out-of-sample validation: optimize on a train window, then run the chosen params on the window
that follows it, which the search never saw.

- `split P%`: train on the first P % of the bars, test on the rest.
- `walk_forward K folds`: the bars are cut into K + 1 equal segments; fold k (1..K) tests on
  segment k after training on segment k - 1 (`rolling`) or on segments 0..k-1 (`anchored`).

Every test window starts flat with the starting capital; the stitched out-of-sample equity chains
the test windows, each scaled by the equity the previous ones ended with, as one account trading
the chosen params of each fold in turn. Its metrics use the runtime's own `equity_metrics`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import polars as pl

from ..errors import UsageError
from ..lang.optimize_check import Validation
from ..runtime.metrics import bars_per_year, equity_metrics
from .batch import Evaluator, Window, params_of
from .search import SearchResult

MIN_WINDOW_BARS = 2


@dataclass(frozen=True)
class Fold:
    """One train window and the test window right after it."""

    number: int
    train: Window
    test: Window


@dataclass(frozen=True)
class FoldResult:
    """A fold's search, its chosen trial (None if no trial qualified) and that trial's test run."""

    fold: Fold
    search: SearchResult
    best: dict[str, Any] | None
    test_metrics: dict[str, Any] | None
    test_equity: pl.DataFrame | None


@dataclass(frozen=True)
class ValidationResult:
    """Every fold that ran, the stitched out-of-sample equity and its metrics."""

    validation: Validation
    folds: tuple[FoldResult, ...]
    stitched: pl.DataFrame
    stitched_metrics: dict[str, Any]
    interrupted: bool


def make_folds(validation: Validation, bars: int) -> list[Fold]:
    """The folds of `validation` over `bars` bars (see the module docstring)."""
    if validation.kind == "split":
        cut = int(round(bars * (validation.train_fraction or 0.0)))
        folds = [Fold(1, Window(0, cut), Window(cut, bars))]
    else:
        k = validation.folds or 2
        edges = [int(round(i * bars / (k + 1))) for i in range(k + 2)]
        folds = [Fold(i, Window(0 if validation.anchored else edges[i - 1], edges[i]),
                      Window(edges[i], edges[i + 1])) for i in range(1, k + 1)]
    short = [f for f in folds if min(f.train.bars, f.test.bars) < MIN_WINDOW_BARS]
    if short:
        raise UsageError(f"{bars} bars are too few for this validation: fold {short[0].number} would have "
                         f"a window of fewer than {MIN_WINDOW_BARS} bars")
    return folds


def run_validation(validation: Validation, evaluator: Evaluator,
                   search: Callable[[Fold], SearchResult]) -> ValidationResult:
    """Search each fold's train window with `search`, then run its best params on the test window."""
    results: list[FoldResult] = []
    interrupted = False
    for fold in make_folds(validation, evaluator.bars.height):
        found = search(fold)
        best = found.best(evaluator.objective)
        metrics = equity = None
        if best is not None and not found.interrupted:
            run = evaluator.backtest(params_of(best), fold.test)
            metrics, equity = run.metrics["all"], run.equity
        results.append(FoldResult(fold, found, best, metrics, equity))
        if found.interrupted:
            interrupted = True
            break
    stitched = stitch([r.test_equity for r in results if r.test_equity is not None],
                      capital=evaluator.base.settings["capital"])
    return ValidationResult(validation, tuple(results), stitched,
                            stitched_metrics(stitched, evaluator.base.settings["capital"]), interrupted)


def stitch(curves: list[pl.DataFrame], *, capital: float) -> pl.DataFrame:
    """Test-window equity curves chained into one account (timestamp, equity, fold)."""
    parts, scale = [], 1.0
    for number, curve in enumerate(curves, start=1):
        parts.append(pl.DataFrame({"timestamp": curve["timestamp"],
                                   "equity": curve["equity"].to_numpy() * scale,
                                   "fold": np.full(curve.height, number, dtype=np.int64)}))
        scale *= float(curve["equity"][-1]) / capital
    if not parts:
        return pl.DataFrame(schema={"timestamp": pl.Datetime("ms", "UTC"), "equity": pl.Float64,
                                    "fold": pl.Int64})
    return pl.concat(parts)


def stitched_metrics(stitched: pl.DataFrame, capital: float) -> dict[str, Any]:
    if stitched.height < 2:
        return {}
    return equity_metrics(stitched["equity"].to_numpy(), stitched["timestamp"], capital=capital,
                          bars_per_year=bars_per_year(stitched["timestamp"]))


NEAR_ZERO = 0.1  # an in-sample value under this share of the out-of-sample one has no useful ratio
DECAY_NA = (f"decay n/a: the in-sample value is near zero (under {NEAR_ZERO:.0%} of the out-of-sample "
            "value), so a change measured as a share of it means nothing")


def decay(in_sample: float | None, out_of_sample: float | None, *, maximize: bool = True) -> float | None:
    """How much worse the objective is out of sample, as a share of |in-sample|: 0.4 is 40 % worse,
    negative is better. None when unknown, or when the in-sample value is near zero (see
    `decay_undefined`): in-sample Sharpe -0.05 and out-of-sample 3.3 would read "-6567 %"."""
    if in_sample is None or out_of_sample is None or decay_undefined(in_sample, out_of_sample):
        return None
    worse = in_sample - out_of_sample if maximize else out_of_sample - in_sample
    return worse / abs(in_sample)


def decay_undefined(in_sample: float | None, out_of_sample: float | None) -> bool:
    """Both values are known but the in-sample one is too near zero for a ratio to it (DECAY_NA)."""
    if in_sample is None or out_of_sample is None:
        return False
    return abs(in_sample) < NEAR_ZERO * max(abs(in_sample), abs(out_of_sample)) or in_sample == 0
