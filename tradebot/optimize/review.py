"""What a finished sweep means: its best trials and the checks against fooling oneself.

`review` gathers, for the search that picks the params (the whole data; with `validate split`
the in-sample part; with walk-forward the last fold's train window):
- the ranked trials and the best one, re-run in full (trades and equity);
- the deflated Sharpe ratio of the best trial given how many trials were tried (stats.py);
- the stability of the objective around the best grid point, and a heatmap of it (drawn by the
  HTML report, tradebot/report/sweep.py);
- the best params re-run with every cost (fees, slippage, spread) doubled;
- with `validate split`, the top trials re-run out of sample (in-sample vs out-of-sample decay).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ..charts.heatmap import Heatmap
from ..market.vocab import COST_STRESS_FACTOR
from ..runtime.engine import BacktestResult
from ..runtime.metrics import bar_returns
from .batch import PARAM_PREFIX, Evaluator, Objective, Window, params_of
from .search import SearchResult
from .space import Space
from .stats import Stability, deflated_sharpe, stability
from .validate import ValidationResult

COST_FACTOR = COST_STRESS_FACTOR  # the stress re-run doubles every cost (fees, slippage, spread)


@dataclass(frozen=True)
class Review:
    """Everything the report shows (see the module docstring)."""

    objective: Objective
    search: SearchResult
    window: Window
    ranked: pl.DataFrame
    best: dict[str, Any] | None
    best_run: BacktestResult | None
    deflated_sharpe: float | None
    stability: Stability | None
    heatmap: Heatmap | None
    doubled_costs: dict[str, Any] | None
    out_of_sample_top: tuple[dict[str, Any] | None, ...] | None
    validation: ValidationResult | None


def review(evaluator: Evaluator, space: Space, search: SearchResult, window: Window, *, top: int,
           validation: ValidationResult | None = None, test_window: Window | None = None) -> Review:
    objective = evaluator.objective
    ranked = search.ranked(objective)
    best = ranked.row(0, named=True) if ranked.height else None
    if best is None:
        return Review(objective, search, window, ranked, None, None, None, None, None, None, None, validation)
    params = params_of(best)
    run = evaluator.backtest(params, window)
    doubled = _with_costs(evaluator, COST_FACTOR).backtest(params, window).metrics["all"]
    oos = _out_of_sample(evaluator, ranked.head(top), test_window) if test_window else None
    return Review(objective, search, window, ranked, best, run, _deflated(search, run),
                  _stability(space, ranked, best, objective), heatmap(space, ranked, best, objective),
                  doubled, oos, validation)


def _with_costs(evaluator: Evaluator, factor: float) -> Evaluator:
    return type(evaluator)(dataclasses.replace(evaluator.spec, cost_factor=factor))


def _out_of_sample(evaluator: Evaluator, rows: pl.DataFrame, window: Window) -> tuple[dict | None, ...]:
    """The top trials' metrics on the test window (one shared plan)."""
    programs = [evaluator.check(params_of(row)) for row in rows.iter_rows(named=True)]
    return tuple(run.metrics["all"] for run in evaluator.backtests(programs, window)) if programs else ()


def _deflated(search: SearchResult, run: BacktestResult) -> float | None:
    """DSR of the best trial among every trial that produced metrics (stats.deflated_sharpe)."""
    evaluated = search.evaluated("sharpe", "bars_per_year")
    per_bar = [s / math.sqrt(b) for s, b in zip(evaluated["sharpe"].to_list(), evaluated["bars_per_year"].to_list())
               if b and b > 0]
    return deflated_sharpe(bar_returns(run.equity["equity"].to_numpy()), per_bar)


def _objective_by_index(ranked: pl.DataFrame) -> dict[int, float]:
    return dict(zip(ranked["grid_index"].to_list(), ranked["objective"].to_list()))


def _stability(space: Space, ranked: pl.DataFrame, best: dict[str, Any], objective: Objective) -> Stability | None:
    index = best.get("grid_index", -1)
    if not space.is_discrete or index is None or index < 0:
        return None
    return stability(index, best["objective"], space.neighbours(index), _objective_by_index(ranked))


def heatmap(space: Space, ranked: pl.DataFrame, best: dict[str, Any], objective: Objective) -> Heatmap | None:
    """The objective over the two params with the most values, the others at the best's values
    (one row when only one param is searched)."""
    if not space.is_discrete or not space.dims:
        return None
    dims = sorted(space.dims, key=lambda d: -(d.size or 0))[:2]
    columns, rows = dims[0], (dims[1] if len(dims) == 2 else None)
    row_values: tuple[float, ...] = rows.values if rows else (0.0,)  # type: ignore[assignment]
    by_index = _objective_by_index(ranked)
    at_best = {d.name: np.array([best[PARAM_PREFIX + d.name]]) for d in space.dims}

    def value(row: float, column: float) -> float | None:
        point = {**at_best, columns.name: np.array([column])}
        if rows:
            point[rows.name] = np.array([row])
        return by_index.get(int(space.indices_of(point)[0]))

    grid = [[value(r, c) for c in columns.values] for r in row_values]  # type: ignore[union-attr]
    cell = (row_values.index(best[PARAM_PREFIX + rows.name]) if rows else 0,
            columns.values.index(best[PARAM_PREFIX + columns.name]))  # type: ignore[union-attr]
    return Heatmap(f"{objective.metric} around the best trial", rows.name if rows else "", row_values,
                   columns.name, columns.values, grid, cell)  # type: ignore[arg-type]
