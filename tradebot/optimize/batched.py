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

from ..lang import ir
from ..lang.checker import CheckedProgram
from ..pipeline import EngineInputs, engine_inputs, engine_plan, engine_signals, execution_config, rule_program
from ..runtime.engine import Market, simulate
from ..runtime.summary import ALL_KEYS, all_row
from .columns import ColumnCache


@dataclass(frozen=True)
class Groups:
    """Programs by their engine inputs: `members[g]` are the positions (in the caller's list) of
    the programs that share group g's inputs, `first[g]` the first of them."""

    first: list[int]
    members: list[list[int]]


def group_by_inputs(inputs: Sequence[EngineInputs]) -> Groups:
    """Group programs whose engine inputs (`engine_inputs`) are equal IR (they differ only in
    execution values)."""
    index: dict[tuple, int] = {}
    groups = Groups([], [])
    with ir.shared_equality():
        for position, engine in enumerate(inputs):
            g = index.setdefault(tuple(engine.nodes.items()), len(groups.first))
            if g == len(groups.first):
                groups.first.append(position)
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
    inputs = [engine_inputs(checked) for checked in programs]  # once each: they compile position rules
    groups = group_by_inputs(inputs)
    for block in range(0, len(groups.first), plan_size):
        shared = groups.first[block:block + plan_size]
        frame = _input_frame([inputs[p] for p in shared], bars, cache).slice(start)
        for g, first in enumerate(shared):
            signals = engine_signals(programs[first], frame, prefix=f"{g}.", inputs=inputs[first])
            for position in groups.members[block + g]:
                # Rules reading position state run in the engine: their program may differ within a
                # group (a param used only there is a constant of the program, not a plan column).
                program = rule_program(inputs[position].program, frame, f"{g}.")
                run = simulate(market, signals, execution_config(programs[position]), program)
                out[position] = all_row(run.equity_part, run.trade_part, run.buy_and_hold_pct)
    return out


def _input_frame(inputs: Sequence[EngineInputs], bars: pl.DataFrame, cache: ColumnCache | None) -> pl.DataFrame:
    """One plan's engine inputs for programs (their `engine_inputs`) on `bars`, reading the
    indicators `cache` holds and keeping those it computes."""
    if cache is None:
        return engine_plan(inputs).evaluate(bars)
    with ir.shared_equality():  # the cache's nodes (earlier batches') and the plan's, compared once
        held, wanted = cache.plan_inputs([node for engine in inputs for node in engine.nodes.values()], bars.height)
        plan = engine_plan(inputs, precomputed=held, keep=wanted)
    frame = plan.evaluate(cache.bars_with(bars, held))
    cache.keep(frame, wanted)
    return frame
