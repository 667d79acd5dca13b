"""A `SweepPage` from an optimizer review: every trial, heatmaps over pairs of params, the
overfitting checks, the validation folds with the stitched out-of-sample equity, the manifest,
and the best params' own backtest page.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import numpy as np
import polars as pl

from ..data.panel import Panel
from ..optimize.batch import PARAM_PREFIX, param_columns, params_of
from ..optimize.report import RunInfo, folds_frame, format_report, manifest
from ..optimize.review import COST_FACTOR, Review
from ..runtime.report import json_safe
from ..runtime.portfolio import PortfolioResult
from .backtest import backtest_page
from .portfolio import portfolio_page
from ..charts.heatmap import Heatmap
from .model import SweepPage, Table

MAX_PAIR_HEATMAPS = 3
MIN_TOP = 10


def sweep_page(review: Review, info: RunInfo, bars: pl.DataFrame | Panel, *, top: int = MIN_TOP) -> SweepPage:
    """The page of a finished (or interrupted) sweep; `bars` are all the bars the sweep ran on
    (a portfolio's: its universe's panel)."""
    trials = review.search.trials
    names = param_columns(trials)
    notes = []
    if trials.height <= 1:
        notes.append(f"{trials.height} trial: heatmaps and parallel coordinates need several trials to compare")
    if review.best is None:
        notes.append("no trial produced a result to rank, so there is no best run, no checks and no heatmap")
    best = None
    start, end = review.window.start, review.window.end
    shown = {"title": f"{info.title}: best params", "params": params_of(review.best or {}),
             "settings": {"bars": f"{start}..{end}"}}
    if isinstance(review.best_run, PortfolioResult) and isinstance(bars, Panel):
        best = portfolio_page(review.best_run, prices={name: matrix[start:end] for name, matrix in bars.prices.items()},
                              **shown)
    elif review.best_run is not None and isinstance(bars, pl.DataFrame):
        best = backtest_page(review.best_run, bars=bars.slice(start, end - start), **shown)
    validation = review.validation
    stitched = validation.stitched if validation is not None else None
    return SweepPage(
        title=f"Optimize {info.title}", summary=format_report(review, info, top=top).splitlines(),
        objective=review.objective.metric, maximize=review.objective.maximize,
        trials=Table(trials.columns, [json_safe(list(row)) for row in trials.iter_rows()]),
        param_names=names, heatmaps=heatmaps(review, names), checks=checks(review),
        folds=_table(folds_frame(review)) if validation is not None else None,
        oos_time=_ms(stitched), oos_equity=_column(stitched, "equity"), oos_fold=_column(stitched, "fold"),
        manifest=json_safe(manifest(review, info)), best=best, notes=notes)


def heatmaps(review: Review, names: Sequence[str]) -> list[Heatmap]:
    """The review's heatmap around the best trial, then the best objective over each pair of
    searched params (the best over the other params' values), for the pairs with most values."""
    out = []
    if review.heatmap is not None:
        out.append(review.heatmap)
    ranked = review.ranked
    if ranked.height < 2:
        return out
    varied = sorted((n for n in names if ranked[n].n_unique() > 1), key=lambda n: -ranked[n].n_unique())
    for rows, columns in itertools.islice(itertools.combinations(varied, 2), MAX_PAIR_HEATMAPS):
        out.append(_pair_heatmap(ranked, rows, columns, review.objective.metric, review.objective.maximize))
    return out


def _pair_heatmap(ranked: pl.DataFrame, rows: str, columns: str, metric: str, maximize: bool) -> Heatmap:
    agg = pl.col("objective").max() if maximize else pl.col("objective").min()
    cells = ranked.group_by(rows, columns).agg(agg)
    row_values = sorted(ranked[rows].unique().to_list())
    column_values = sorted(ranked[columns].unique().to_list())
    lookup = {(r, c): v for r, c, v in cells.iter_rows()}
    values = [[_finite(lookup.get((r, c))) for c in column_values] for r in row_values]
    best_row = ranked.row(0, named=True)
    best = (row_values.index(best_row[rows]), column_values.index(best_row[columns]))
    word = "best" if maximize else "lowest"
    return Heatmap(f"{metric}: {word} over the other params", rows[len(PARAM_PREFIX):], row_values,
                   columns[len(PARAM_PREFIX):], column_values, values, best)


def checks(review: Review) -> list[tuple[str, str]]:
    """The overfitting checks as label and value (the terminal report words them the same way)."""
    if review.best is None:
        return []
    metric = review.objective.metric
    evaluated = review.search.evaluated("trial").height
    dsr = review.deflated_sharpe
    out = [("Best params", ", ".join(f"{k} = {v}" for k, v in params_of(review.best).items())),
           ("Deflated Sharpe ratio", ("n/a (flat returns)" if dsr is None else f"{dsr:.3f}") +
            f" over {evaluated:,} trials")]
    s = review.stability
    if s is None or not s.neighbours:
        out.append(("Parameter stability", "n/a (no evaluated grid neighbours)"))
    else:
        drop = s.drop(maximize=review.objective.maximize)
        out.append(("Parameter stability", f"{len(s.neighbours)} grid neighbours average {s.mean:.4g} (worst "
                    f"{s.worst:.4g}) vs {s.value:.4g} at the best" + ("" if drop is None else f": {100 * drop:.0f}% worse")))
    doubled = review.doubled_costs or {}
    out.append((f"Costs x{COST_FACTOR:g}", f"{metric} {_text(doubled.get(metric))} (was {_text(review.best.get(metric))}), "
                f"total return {_text(doubled.get('total_return_pct'))} % (was {_text(review.best.get('total_return_pct'))} %)"))
    return out


def _table(frame: pl.DataFrame) -> Table:
    return Table(frame.columns, [json_safe(list(row)) for row in frame.iter_rows()])


def _ms(frame: pl.DataFrame | None) -> np.ndarray:
    if frame is None or frame.height == 0:
        return np.zeros(0, dtype=np.int64)
    return frame["timestamp"].dt.epoch("ms").to_numpy()


def _column(frame: pl.DataFrame | None, name: str) -> np.ndarray:
    return np.zeros(0) if frame is None or frame.height == 0 else frame[name].to_numpy().astype(np.float64)


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _text(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,.4g}" if isinstance(value, float) else str(value)
