"""Each member of a position program's value on a bar flat since the last close, where its
formula makes it a constant there.

`held = if position_side != 0 then held[1] + 1 else 0 starting 0` is 0 on every bar without a
position: while flat, the registers are known (vm/registers.py `WHILE_FLAT`) and the branch that
reads the past is not taken. A member whose past is read must have a value on every bar, so the
program would run on every bar for it; with its flat value known, the engine writes that value
on a flat bar with nothing to enter instead of running the program (`kernel.step`), and runs it
only around positions: a quarter of the bars in docs/benchmarks.md's position-state script.

The values come from the operators' own reference (lang/operators.py), the semantics the
interpreter is cross-checked against. Anything the fold cannot know (an input column, a member's
past, a function, the last exit) makes the member not constant; so does a missing result (a
member is its start value until its formula has one).
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from .. import ir
from ..operators import OPERATORS


def flat_values(names: tuple[str, ...], bodies: Mapping[str, ir.Node],
                positions: Mapping[str, float | None]) -> np.ndarray:
    """Per member (in `names` order), its value on a flat bar with nothing to enter; NaN where it
    is not a constant there. `bodies`: each member's formula (ir.Member reads another member on
    the same bar); `positions`: each position value's name (`position_side`) and its value while
    flat (None: it changes while flat)."""
    fold = _Fold(bodies, positions)
    values = (fold.member(name) for name in names)
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


class _Fold:
    def __init__(self, bodies: Mapping[str, ir.Node], positions: Mapping[str, float | None]) -> None:
        self.bodies, self.positions = bodies, positions
        self.members: dict[str, float | None] = {}

    def member(self, name: str) -> float | None:
        if name not in self.members:
            self.members[name] = None  # a same-bar cycle is an error elsewhere: not a constant
            value = self.value(self.bodies[name])
            self.members[name] = None if value is None or math.isnan(value) else value
        return self.members[name]

    def value(self, node: ir.Node) -> float | None:  # noqa: PLR0911 - one return per node kind
        """`node` on a flat bar, or None if it is not known there."""
        if isinstance(node, ir.Const):
            return None if isinstance(node.value, str) else float(node.value)
        if isinstance(node, ir.Member):
            return self.member(node.name) if node.name in self.bodies else None
        if isinstance(node, ir.Call):
            return self.positions.get(node.name)
        if isinstance(node, ir.Op) and node.op in OPERATORS and not OPERATORS[node.op].windowed:
            return self._op(node)
        return None

    def _op(self, node: ir.Op) -> float | None:
        if node.op == "if":
            test = self.value(node.args[0])
            if test is None:
                return None
            return math.nan if math.isnan(test) else self.value(node.args[1 if test == 1.0 else 2])
        values = [self.value(arg) for arg in node.args]
        if node.op in ("and", "or"):  # false wins over anything in `and`, true in `or`
            winner = 0.0 if node.op == "and" else 1.0
            if winner in values:
                return winner
        if None in values:
            return None
        return float(OPERATORS[node.op].reference(*values))
