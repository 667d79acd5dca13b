"""The trials of one batch as numbers: each distinct set of engine inputs computed once, then the
kernel and the compiled metrics per combination, no frame per trial.

Combinations that differ only in execution values (a stop %, a fee) have the same engine inputs
(the checked IR of their signals and risk series is equal), so they form one group: its columns
are computed once, by one shared Polars plan with the other groups of the batch (the compiler
also shares an indicator between groups, an RSI of one length however many thresholds are tried),
and turned into numpy once; then each combination of the group runs `engine.simulate` with its own
execution config. `simulate` is the function a plain run's `run_backtest` calls, and
`summary.summarize` computes every metric in both, so a trial's numbers equal a plain run's by
construction; the trade and equity frames are built only for the trials a report shows
(`Evaluator.backtest`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import polars as pl

from ..lang.checker import CheckedProgram
from ..pipeline import (compile_engine_plan, engine_nodes, engine_signals, execution_config, position_program,
                        rule_program)
from ..runtime.engine import Market, simulate
from ..runtime.summary import ALL_KEYS, all_row
from .columns import ColumnCache


@dataclass(frozen=True)
class Groups:
    """Programs by their engine inputs: `members[g]` are the positions (in the caller's list) of
    the programs that share group g's inputs, `programs[g]` one of them."""

    programs: list[CheckedProgram]
    members: list[list[int]]


def group_by_inputs(programs: Sequence[CheckedProgram]) -> Groups:
    """Group programs whose engine inputs are equal IR (they differ only in execution values)."""
    index: dict[tuple, int] = {}
    groups = Groups([], [])
    for position, checked in enumerate(programs):
        key = tuple(engine_nodes(checked).items())
        g = index.setdefault(key, len(groups.programs))
        if g == len(groups.programs):
            groups.programs.append(checked)
            groups.members.append([])
        groups.members[g].append(position)
    return groups


def metric_rows(programs: Sequence[CheckedProgram], bars: pl.DataFrame, market: Market, *,
                start: int, plan_size: int, cache: ColumnCache | None = None) -> np.ndarray:
    """(len(programs), len(ALL_KEYS)) numbers: each program's "all" metrics on the window that
    starts at bar `start` of `bars` (which end where the window ends: the bars before `start`
    warm the indicators up); `plan_size` groups share a plan at most (the memory budget).
    `cache`: indicator columns earlier batches computed on the same bars (columns.py)."""
    out = np.empty((len(programs), len(ALL_KEYS)))
    groups = group_by_inputs(programs)
    for first in range(0, len(groups.programs), plan_size):
        shared = groups.programs[first:first + plan_size]
        frame = _engine_inputs(shared, bars, cache).slice(start)
        for g, checked in enumerate(shared):
            signals = engine_signals(checked, frame, prefix=f"{g}.")
            for position in groups.members[first + g]:
                # Rules reading position state run in the engine: their program may differ within a
                # group (a param used only there is a constant of the program, not a plan column).
                program = rule_program(position_program(programs[position]), frame, f"{g}.")
                run = simulate(market, signals, execution_config(programs[position]), program)
                out[position] = all_row(run.equity_part, run.trade_part, run.buy_and_hold_pct)
    return out


def _engine_inputs(programs: Sequence[CheckedProgram], bars: pl.DataFrame, cache: ColumnCache | None) -> pl.DataFrame:
    """One plan's engine inputs for `programs` on `bars`, reading the indicators `cache` holds and
    keeping those it computes."""
    if cache is None:
        return compile_engine_plan(programs).evaluate(bars)
    held, wanted = cache.plan_inputs([node for checked in programs for node in engine_nodes(checked).values()],
                                     bars.height)
    frame = compile_engine_plan(programs, precomputed=held, keep=wanted).evaluate(cache.bars_with(bars, held))
    cache.keep(frame, wanted)
    return frame
