"""Indicator columns a sweep keeps from one batch's plan for the next batches.

One plan per batch computes an indicator once for every combination of the batch that uses it
(batched.py), but the next batch computed it again: on the SMA grid of bench/bench_optimize.py
(90 combinations in 8 batches) each batch recomputed about 12 moving averages, 96 in all for 20
distinct ones, and a random or Bayesian sweep, whose batches are small, recomputed nearly every
indicator of every trial. `ColumnCache` keeps the columns of the indicator calls a plan computed
(within a memory budget, the least recently used leaving first); the next plan reads them as
columns of the bars instead of computing them (`compile_nodes`' `precomputed`).

The values are the same by construction: a column is kept with the bars it was computed on (the
window's end: the plan always runs from the first bar) and the IR node it is the value of, and
IR nodes are equal only when they compute the same thing. Only calls evaluated on the script's own
bars are kept: what is under an `@ timeframe` or an `of SYMBOL` runs in a plan of its own.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Mapping

import polars as pl

from ..lang import ir
from ..lang.builtins import REGISTRY

KEEP_PREFIX = "keep."  # the kept columns' names among a plan's outputs
COLUMN_PREFIX = "__cached_"  # their names among the bars' columns


class ColumnCache:
    """Columns by IR node for the bars of one window end, at most `budget` bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.end: int | None = None
        self.columns: OrderedDict[ir.Node, pl.Series] = OrderedDict()
        self.size = 0

    def plan_inputs(self, roots: Iterable[ir.Node], end: int) -> tuple[dict[ir.Node, str], dict[str, ir.Node]]:
        """(the nodes under `roots` this cache holds, by the column name the bars will have them
        under; the nodes it does not hold, by the output name that keeps them) for a plan on the
        bars up to `end`."""
        if end != self.end:  # another window: nothing kept applies
            self.end, self.size = end, 0
            self.columns.clear()
        held: dict[ir.Node, str] = {}
        wanted: dict[str, ir.Node] = {}
        for node in dict.fromkeys(_indicator_calls(roots)):  # equal nodes of several programs once
            if node in self.columns:
                self.columns.move_to_end(node)
                held[node] = f"{COLUMN_PREFIX}{len(held)}"
            elif self.budget > 0:
                wanted[f"{KEEP_PREFIX}{len(wanted)}"] = node
        return held, wanted

    def bars_with(self, bars: pl.DataFrame, held: Mapping[ir.Node, str]) -> pl.DataFrame:
        """`bars` with the held columns under their names."""
        if not held:
            return bars
        return bars.with_columns(self.columns[node].alias(name) for node, name in held.items())

    def keep(self, frame: pl.DataFrame, wanted: Mapping[str, ir.Node]) -> None:
        """Keep the wanted columns a plan computed (`frame`: its output, every bar up to the end)."""
        for name, node in wanted.items():
            column = frame[name]
            self.columns[node] = column
            self.size += column.estimated_size()
        while self.size > self.budget and self.columns:
            _, oldest = self.columns.popitem(last=False)
            self.size -= oldest.estimated_size()


def _indicator_calls(roots: Iterable[ir.Node]) -> list[ir.Node]:
    """The builtin calls under `roots` worth keeping: those with arguments (not `close`), of one
    output (a multi-output call is kept field by field), on the script's own bars: the walk stays
    among operators and calls (not under an `@`, an `of` or a recursion, whose plans are their own)."""
    found, stack, seen = [], list(roots), set()
    while stack:
        node = stack.pop()
        if id(node) in seen or not isinstance(node, (ir.Op, ir.Call, ir.FieldOf)):
            continue
        seen.add(id(node))
        if isinstance(node, ir.FieldOf) or (isinstance(node, ir.Call) and node.args
                                            and not REGISTRY[node.name].fields):
            found.append(node)
        else:
            stack.extend(ir.children(node))
    return found
