"""How many bars of history a compiled script needs before every value it reads is warm.

Paper trading starts from the store, not from the first bar ever traded: it must load enough
history that the first live bar already sees warm indicators. This is computed from the checked
IR, not guessed: each builtin's warm-up (the bar of its first value, `Builtin.warmup` in the library,
the same text docs/builtins.md prints) evaluated with the call's constant arguments, added along
every path from the price series to a signal (`sma(rsi(close, 14), 5)` needs 14 + 4 bars), plus
the shifts of `[k]`, crosses and `held_for`. A value `@ 4h` needs its own warm-up in 4-hour bars,
plus the current unfinished 4-hour bar, counted in the data's bars (`bars(interval_ms)`).

Some builtins never become "warm" after a fixed count (`barssince`, `valuewhen`, `ffill` wait
for an event); those are listed in `Lookback.open_ended` and count as 0 extra bars: the script
is evaluated from a fixed first bar anyway, so live values equal the backtest's on the same bars.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Iterable, Mapping

from . import ir
from .builtin_spec import Builtin
from .builtins import REGISTRY
from .operators import OPERATORS
from ..market.timeframe import DAY_MS, MINUTE_MS as _MINUTE, parse_timeframe

MONTH_MS = 31 * DAY_MS  # the longest month: a safe upper bound for `@ 1M` buckets
_OPEN_ENDED = "until"  # notes such as "until the first true"
_FUNCTIONS = {"max": max, "min": min, "floor": math.floor, "sqrt": math.sqrt, "ceil": math.ceil}


@dataclass(frozen=True)
class Lookback:
    """The warm-up of a set of IR nodes: `bars(interval_ms)` in the data's bars."""

    nodes: tuple[ir.Node, ...]
    open_ended: tuple[str, ...]  # builtins whose first value waits for an event

    def bars(self, interval_ms: int) -> int:
        """Bars of `interval_ms` needed before the first bar whose every value is warm."""
        known: dict[tuple[int, int], int] = {}  # shared across the roots: they share definitions too
        return max((_needed(node, interval_ms, known) for node in self.nodes), default=0)

    def describe(self) -> str:
        """One line for `tradebot check`: the warm-up on 1-minute and on 1-hour data (a value
        `@ 4h` costs more bars on shorter ones)."""
        frames = any(isinstance(n, ir.Resample) for node in self.nodes for n in ir.walk(node))
        text = (f"warm-up {self.bars(_MINUTE)} bars on 1m data, {self.bars(60 * _MINUTE)} on 1h data"
                if frames else f"warm-up {self.bars(_MINUTE)} bars")
        if self.open_ended:
            text += f"; {', '.join(self.open_ended)} wait for an event"
        return text


def lookback(nodes: Iterable[ir.Node]) -> Lookback:
    """The lookback of everything in `nodes` (a program's signals and risk series)."""
    nodes = tuple(nodes)
    names = sorted({n.name for n in ir.walk(*nodes)
                    if isinstance(n, ir.Call) and REGISTRY[n.name].warmup.startswith(_OPEN_ENDED)})
    return Lookback(nodes, tuple(names))


def _needed(node: ir.Node, unit_ms: int, known: dict[tuple[int, int], int] | None = None) -> int:
    """Bars of `unit_ms` before `node`'s first value (its own warm-up on top of its inputs').
    `known`: each shared node's answer, by id and unit: definitions built on definitions share
    their nodes, and walking them as a tree doubles the work with each level (issue 10.11)."""
    known = {} if known is None else known
    key = (id(node), unit_ms)
    if key not in known:
        known[key] = _own_and_inputs(node, unit_ms, known)
    return known[key]


def _own_and_inputs(node: ir.Node, unit_ms: int, known: dict[tuple[int, int], int]) -> int:
    if isinstance(node, ir.Const):
        return 0
    if isinstance(node, ir.Resample):
        frame_ms = parse_timeframe(node.timeframe).ms or MONTH_MS
        per_bar = max(1, -(-frame_ms // unit_ms))
        # The inner warm-up in higher bars, each `per_bar` of ours, plus the higher bar in progress.
        return (_needed(node.expr, frame_ms, known) + 1) * per_bar + per_bar
    if isinstance(node, ir.FieldOf):
        return _needed(node.target, unit_ms, known)
    inputs = max((_needed(child, unit_ms, known) for child in ir.children(node)), default=0)
    if isinstance(node, ir.Op):
        return inputs + _op_shift(node)
    if isinstance(node, ir.Call):
        return inputs + _call_warmup(node)
    return inputs


def _op_shift(node: ir.Op) -> int:
    return OPERATORS[node.op].lookback(int(node.param or 0))


def _call_warmup(node: ir.Call) -> int:
    values = {spec.name: arg.value for spec, arg in zip(REGISTRY[node.name].params, node.args)
              if isinstance(arg, ir.Const) and not isinstance(arg.value, str)}
    return warmup_bars(REGISTRY[node.name], values)


def warmup_bars(builtin: Builtin, values: Mapping[str, object]) -> int:
    """The bar of `builtin`'s first value with these constant arguments (a parameter not given
    counts as 0); 0 when its first value waits for an event."""
    if builtin.warmup.startswith(_OPEN_ENDED):
        return 0
    return max(0, math.ceil(_arithmetic(builtin.warmup, values)))


def _arithmetic(text: str, names: Mapping[str, object]) -> float:
    """A warm-up formula such as `2 * (length - 1)` with the call's constant arguments."""
    return float(_eval(ast.parse(text, mode="eval").body, names))


def _eval(node: ast.AST, names: Mapping[str, object]) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(names.get(node.id, 0))  # type: ignore[arg-type]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, names), _eval(node.right, names)
        ops = {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right}
        return ops[type(node.op)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return float(_FUNCTIONS[node.func.id](*(_eval(a, names) for a in node.args)))
    raise ValueError(f"unsupported warm-up formula: {ast.dump(node)}")
