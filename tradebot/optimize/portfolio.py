"""Sweeps of a portfolio script (one with a `universe`): the Evaluator's batches, run on every
symbol of the universe with one account (docs/optimize.md, "Portfolios").

A batch of combinations is compiled into one plan (as for one symbol: an indicator the programs
share is computed once), evaluated on each symbol's own bars, and every combination's signals go
through the portfolio engine (`portfolio_pipeline.portfolio_from_frames`, the same call `tradebot run`
makes, hence the same numbers). A window is a range of the universe's timeline: each symbol's plan
runs on its bars before the window's end (the earlier ones are warm-up), and the engine trades
the window's rows only.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import polars as pl

from ..config import Config
from ..data.panel import Panel, load_panel
from ..errors import UsageError
from ..lang.checker import CheckedProgram
from ..lang.compiler import Plan, compile_nodes
from ..lang.diagnostics import Diagnostic, ScriptDiagnostics
from ..pipeline import PORTFOLIO_OBJECTIVES, Strategy, require_volume
from ..portfolio_pipeline import StoreChoice, other_bars, portfolio_from_frames, portfolio_nodes, universe_paths
from ..runtime.portfolio import PortfolioResult
from .batch import BYTES_PER_CELL, MAX_BATCH, WORKING_COPIES, Evaluator, EvaluatorSpec, Window, rows_of_results


@dataclass(frozen=True)
class PortfolioSpec(EvaluatorSpec):
    """An EvaluatorSpec whose `bars` are the universe's timeline (a `timestamp` column: its
    length is what windows cut) and whose `panel` holds every symbol's bars (picklable)."""

    panel: Panel | None = None
    others: Mapping[str, pl.DataFrame] | None = None  # bars of the symbols read with `of`


def timeline_bars(panel: Panel) -> pl.DataFrame:
    return pl.DataFrame({"timestamp": panel.timestamps})


class PortfolioEvaluator(Evaluator):
    """Backtests combinations of one portfolio script's params on its universe."""

    spec: PortfolioSpec

    @property
    def panel(self) -> Panel:
        assert self.spec.panel is not None, "a PortfolioSpec carries its panel"
        return self.spec.panel

    def batch_size(self) -> int:
        """As `Evaluator.batch_size`, the memory of one combination's columns over every symbol's
        bars (each symbol's frame is alive until the engine has run)."""
        if self._batch is None:
            plan = self._plan([self.base])
            columns = sum(len(layer) for layer in plan.layers) + len(plan.outputs)
            cells = sum(frame.height for frame in self.panel.bars.values())
            per_combo = columns * BYTES_PER_CELL * WORKING_COPIES * max(cells, 1)
            self._batch = max(1, min(MAX_BATCH, self.spec.memory_mb * 2**20 // per_combo))
        return self._batch

    def backtests(self, programs: Sequence[CheckedProgram], window: Window) -> list[PortfolioResult]:
        """Backtest several checked programs through one shared plan per symbol."""
        plan = self._plan(programs)
        panel = self.panel
        frames = {}
        for symbol in panel.symbols:
            rows = panel.rows[symbol]
            count = int((rows < window.end).sum())  # the symbol's bars before the window's end
            frames[symbol] = plan.evaluate(panel.bars[symbol].slice(0, count), interval=panel.interval_ms)
        return [portfolio_from_frames(p, panel, frames, prefix=f"{i}.", window=(window.start, window.end))
                for i, p in enumerate(programs)]

    def metric_rows(self, programs: Sequence[CheckedProgram], window: Window
                    ) -> tuple[tuple[str, ...], frozenset[str], np.ndarray]:
        """Each program's portfolio run, then its metrics as numbers (`rows_of_results`)."""
        results = []
        size = self.batch_size()
        for start in range(0, len(programs), size):
            results += self.backtests(programs[start:start + size], window)
        return rows_of_results(results)

    def _plan(self, programs: Sequence[CheckedProgram]) -> Plan:
        plan = compile_nodes({f"{i}.{name}": node for i, checked in enumerate(programs)
                              for name, node in portfolio_nodes(checked).items()})
        return plan.with_others(self.spec.others) if self.spec.others else plan


def portfolio_evaluator(strategy: Strategy, args: argparse.Namespace, config: Config,
                        spec: EvaluatorSpec) -> tuple[Path, list[Path], PortfolioEvaluator]:
    """The universe's glob (as the run's data), its files and the evaluator over them."""
    if args.data:
        raise UsageError("--data is for one symbol; a script with a `universe` names its own files")
    store = StoreChoice(getattr(args, "category", None), getattr(args, "interval", None))
    files = universe_paths(strategy, config, store)
    panel = load_panel(files)
    for symbol in panel.symbols:
        require_volume(strategy, panel.bars[symbol])
    needed = strategy.plan.other_symbols
    others = other_bars(strategy, config, needed, panel=panel, store=store) if needed else None
    universe = strategy.checked.settings["universe"]
    base = strategy.path.parent if strategy.path else Path.cwd()
    # The run's data: the glob, or the store folder holding the symbols' files.
    data = base / universe if isinstance(universe, str) else Path(os.path.commonpath(list(files.values())))
    evaluator = PortfolioEvaluator(PortfolioSpec(**{**vars(spec), "bars": timeline_bars(panel)}, panel=panel,
                                                 others=others))
    return data, [files[symbol] for symbol in panel.symbols], evaluator


def refuse_portfolio_objective(strategy: Strategy) -> None:
    """A metric only a portfolio has, asked of a one-symbol script: a script error at the metric."""
    spec = strategy.checked.optimize
    if spec is None or spec.objective not in PORTFOLIO_OBJECTIVES:
        return
    checked = strategy.checked
    raise ScriptDiagnostics([Diagnostic(
        f"`{spec.objective}` is a portfolio metric, and this script trades one symbol",
        spec.objective_span, "add a `universe` to trade several symbols, or optimize a metric of "
        "one symbol's run (docs/execution.md, \"Metrics\")")], checked.source, checked.filename)


def report_bars(evaluator: Evaluator) -> pl.DataFrame | Panel:
    """What the sweep's report draws the best run on: the bars, or a universe's panel."""
    return evaluator.panel if isinstance(evaluator, PortfolioEvaluator) else evaluator.bars
