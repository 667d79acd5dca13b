"""A naive reference evaluator: the IR interpreted bar by bar in plain Python/numpy.

It shares nothing with the compiler but the IR and the registry's `reference` functions (naive
loops, independent of the Polars lowerings), and is the oracle the compiler is tested against.
Values are float arrays; NaN is missing; conditions are 1.0 / 0.0 / NaN.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ..market.timeframe import infer_interval_ms, parse_timeframe
from . import ir
from .builtins import REGISTRY
from .operators import OPERATORS
from .symbols import naive_aligned
from .stateful.position import NAMES as POSITION_NAMES, TRACKED, exit_reason_code
from .timeframes import check_fits, naive_higher_bars, naive_visible
from .types import ArgKind

NAN = float("nan")


def evaluate(node: ir.Node, bars: Mapping[str, np.ndarray], *, interval: int | None = None,
             others: Mapping[str, Mapping[str, np.ndarray]] | None = None,
             position: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """The value of `node` on every bar. `interval`: the data's bar length in ms (inferred from
    the timestamps when not given); only `@ timeframe` reads it. `others`: the bars of each
    symbol read with `of`. `position`: the position values of a run on every bar (as named in
    lang/stateful/position.py VALUES; a naive backtest builds them bar by bar), which
    position-state builtins read."""
    return _Evaluator(bars, interval=interval, others=others, position=position).value(node)


class _Evaluator:
    def __init__(self, bars: Mapping[str, np.ndarray], *, interval: int | None = None,
                 bar_ends: np.ndarray | None = None,
                 others: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                 position: Mapping[str, np.ndarray] | None = None) -> None:
        self.others = others or {}
        self.bars = {k: (epoch_ms(v) if k == "timestamp" else np.asarray(v, dtype=float))
                     for k, v in bars.items()}
        self.n = len(self.bars["close"])
        self.interval = interval
        self.bar_ends = bar_ends  # when each bar closes (ms); from timestamps + interval if None
        self.position = position

    def value(self, node: ir.Node):
        if isinstance(node, ir.Const) and isinstance(node.value, str):  # `last_exit_reason == "stop"`
            return np.full(self.n, float(exit_reason_code(node.value)))
        if isinstance(node, ir.Const):
            return np.full(self.n, float(node.value))  # type: ignore[arg-type]
        if isinstance(node, ir.Call) and node.name in POSITION_NAMES:
            return self.position_value(node)
        if isinstance(node, ir.Call):
            return self.call(node)
        if isinstance(node, ir.FieldOf):
            return np.asarray(self.call(node.target)[node.name], dtype=float)
        if isinstance(node, ir.Op):
            return self.op(node)
        if isinstance(node, ir.Resample):
            return self.resample(node)
        if isinstance(node, ir.OfSymbol):
            other = self.others[node.symbol]
            interval = self.interval if self.interval is not None else infer_interval_ms(self.bars["timestamp"])
            values = np.asarray(_Evaluator(other, interval=interval).value(node.expr), dtype=float)
            return naive_aligned(values, epoch_ms(other["timestamp"]), self.bars["timestamp"])
        if isinstance(node, ir.StateOf):
            return self.recursion(node.group)[node.name]
        raise TypeError(f"cannot evaluate {type(node).__name__}")

    def recursion(self, group: ir.Recurrence) -> dict[str, np.ndarray]:
        """A recursion bar by bar, straight from its formulas: a member is its start value until
        its formula first has a value. Each member on each bar is computed when first asked for."""
        cache = self.__dict__.setdefault("_recursions", {})
        if group in cache:
            return cache[group]
        values = {name: np.full(self.n, NAN) for name in group.names}
        done = {name: np.zeros(self.n, dtype=bool) for name in group.names}
        started = dict.fromkeys(group.names, False)
        formulas = dict(zip(group.names, zip(group.bodies, group.starts)))
        columns: dict[int, np.ndarray] = {}

        def member(name: str, t: int) -> float:
            if t < 0:
                return NAN
            if not done[name][t]:
                body, start = formulas[name]
                value = at(body, t)
                if not started[name] and math.isnan(value):
                    value = at(start, t)
                elif not math.isnan(value):
                    started[name] = True
                values[name][t], done[name][t] = value, True
            return float(values[name][t])

        def at(node: ir.Node, t: int) -> float:
            if t < 0:
                return NAN
            if isinstance(node, ir.Member):
                return member(node.name, t)
            if not any(isinstance(n, ir.Member) for n in _outside_states(node)):
                if id(node) not in columns:
                    columns[id(node)] = np.asarray(self.value(node), dtype=float)
                return float(columns[id(node)][t])
            if isinstance(node, ir.Call):  # an elementwise function of the recursion
                return float(np.asarray(REGISTRY[node.name].reference(*(np.array([at(a, t)]) for a in node.args)))[0])
            assert isinstance(node, ir.Op), node
            spec = OPERATORS[node.op]
            if spec.windowed:
                return spec.reference(lambda i, s: at(node.args[i], s), t, node.param)
            return spec.reference(*(at(a, t) for a in node.args))

        for t in range(self.n):
            for name in group.names:
                member(name, t)
        cache[group] = values
        return values

    def position_value(self, node: ir.Call) -> np.ndarray:
        """A position value from the run's arrays; a tracked one from its column since the entry
        bar, by brute force."""
        if self.position is None:
            raise ValueError(f"`{node.name}` needs the position values of a run (evaluate(position=...))")
        if node.name not in TRACKED:
            return np.asarray(self.position[node.name], dtype=float)
        column = self.value(node.args[0]) if node.args else self.bars["timestamp"]
        out = np.full(self.n, NAN)
        for t, entry in enumerate(self.position["entry_bar"]):
            if not math.isnan(entry):
                seen = column[int(entry):t + 1]
                if node.name == "entry_time":
                    out[t] = seen[0]
                elif not np.isnan(seen).all():
                    out[t] = np.nanmax(seen) if node.name == "highest_since_entry" else np.nanmin(seen)
        return out

    def resample(self, node: ir.Resample) -> np.ndarray:
        """Build the higher bars, evaluate there, show each value from the bar where it closed."""
        frame = parse_timeframe(node.timeframe)
        if self.bar_ends is None:
            stamps = self.bars["timestamp"]
            interval = self.interval if self.interval is not None else infer_interval_ms(stamps)
            check_fits(frame, interval, "reference")
            self.bar_ends = stamps + (interval or 0)
        higher, ends = naive_higher_bars(frame, self.bars)
        if len(ends) == 0:
            return np.full(self.n, NAN)
        values = np.asarray(_Evaluator(higher, bar_ends=ends).value(node.expr), dtype=float)
        return naive_visible(values, ends, self.bar_ends)

    def call(self, node: ir.Call):
        builtin = REGISTRY[node.name]
        if builtin.is_series:
            return builtin.reference(self.bars)
        args = [arg.value if spec.kind.is_constant or (spec.kind is ArgKind.WINDOW and isinstance(arg, ir.Const))
                else self.value(arg) for spec, arg in zip(builtin.params, node.args)]  # type: ignore[union-attr]
        result = builtin.reference(*args)
        if isinstance(result, dict):
            return result
        return np.asarray(result, dtype=float)

    def op(self, node: ir.Op) -> np.ndarray:
        """The operator's reference (lang/operators.py) on every bar."""
        args = [self.value(a) for a in node.args]
        spec = OPERATORS[node.op]
        if not spec.windowed:
            return np.array([spec.reference(*(a[t] for a in args)) for t in range(self.n)], dtype=float)

        def read(i: int, s: int) -> float:
            return float(args[i][s]) if s >= 0 else NAN
        return np.array([spec.reference(read, t, node.param) for t in range(self.n)], dtype=float)


def _outside_states(node: ir.Node):
    """`node` and its subexpressions, not looking into finished recursions (StateOf)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, ir.StateOf):
            stack.extend(ir.children(current))


def epoch_ms(timestamps) -> np.ndarray:
    """Bar times as float milliseconds since the epoch (from datetime64 or numbers)."""
    values = np.asarray(timestamps)
    if np.issubdtype(values.dtype, np.datetime64):
        values = values.astype("datetime64[ms]").astype(np.int64)
    return values.astype(float)


def as_condition(values: np.ndarray) -> np.ndarray:
    """A rule's signal: missing counts as false."""
    return np.nan_to_num(values, nan=0.0) == 1.0
