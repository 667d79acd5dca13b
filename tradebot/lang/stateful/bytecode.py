"""A recursion (ir.Recurrence) → a stack program for the VM (vm.py).

Every part of a member's formula that does not read the recursion is an INPUT: a whole column
the Polars plan computes first (`rsi(close, 14)`, `close[1]`, `(open + close) / 2`). Only the
operators that touch the recursion become instructions, so a program is a handful of them.

History is pushed down to the leaves: `(a + close)[1]` is `a[1] + close[1]`, where `a[1]` is the
VM's own past and `close[1]` an input column. Crosses unfold into comparisons of this bar and the
last. Window functions of a member (`sma(streak, 3)` inside streak's own formula) have no such
form: they are reported (Unsupported); outside the recursion they read its series like any other.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..ast import Span
from ..operators import OPERATORS
from ..types import NUMBER_SERIES
from ...vm import opcodes as oc

# Elementwise builtins the VM computes (same missing-value rules as lang/library/math.py).
FUNCTIONS = {"abs": oc.ABS, "min": oc.MIN, "max": oc.MAX, "sqrt": oc.SQRT, "log": oc.LOG,
             "exp": oc.EXP, "sign": oc.SIGN, "clip": oc.CLIP, "nz": oc.NZ}


class Unsupported(Exception):
    """A member read by something the VM cannot compute bar by bar."""

    def __init__(self, what: str, member: str, span: Span) -> None:
        super().__init__(what)
        self.what, self.member, self.span = what, member, span


class DirectCycle(Exception):
    """Members that read each other on the same bar (no `[1]` between them)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(" → ".join(names))
        self.names = names


@dataclass(frozen=True)
class Bytecode:
    """The program: `segments[i]` = (member, body start, body end, start start, start end) as
    offsets into `code` (triples op, a, b), members in evaluation order."""

    names: tuple[str, ...]
    code: np.ndarray  # int64, flattened (op, a, b) triples
    consts: np.ndarray  # float64
    segments: np.ndarray  # int64 (members, 5)
    inputs: tuple[ir.Node, ...]  # whole columns the plan computes first, in input-index order
    stack_size: int


@functools.lru_cache(maxsize=256)
def compile_group(group: ir.Recurrence) -> Bytecode:
    """The group's program; raises Unsupported or DirectCycle."""
    return assemble(group, _Emitter(group.names))


def assemble(group: ir.Recurrence, emitter: _Emitter) -> Bytecode:
    """`group`'s members compiled by `emitter`, in an order where same-bar readings come first;
    members the emitter adds while compiling (`emitter.extra`) follow, with no start value."""
    bodies = [emitter.emit_all(body) for body in group.bodies]
    starts = []
    for name, start in zip(group.names, group.starts):
        if _reads_members(start):
            member = next(placeholders(start)).name
            raise Unsupported(f"the start value of `{name}`", member, start.span)
        starts.append(emitter.emit_all(start))
    for body in emitter.extra_bodies():
        bodies.append(emitter.emit_all(body))
        starts.append([])
    names = (*group.names, *emitter.extra_names())
    deps = [emitter.direct.pop(i, set()) for i in range(len(names))]
    code: list[int] = []
    segments = []
    for index in _order(names, deps):
        body_at = len(code)
        code.extend(bodies[index])
        start_at = len(code)
        code.extend(starts[index])
        segments.append((index, body_at, start_at, start_at, len(code)))
    return Bytecode(names, np.asarray(code, dtype=np.int64).reshape(-1),
                    np.asarray(emitter.consts, dtype=np.float64),
                    np.asarray(segments, dtype=np.int64).reshape(-1, 5),
                    tuple(emitter.inputs), max(emitter.depth, 1))


def _order(names: tuple[str, ...], deps: list[set[int]]) -> list[int]:
    """Members in an order where each one's same-bar readings come first (source order otherwise)."""
    done: list[int] = []
    visiting: list[int] = []

    def visit(i: int) -> None:
        if i in done:
            return
        if i in visiting:
            raise DirectCycle([names[j] for j in visiting[visiting.index(i):]] + [names[i]])
        visiting.append(i)
        for j in sorted(deps[i]):
            visit(j)
        visiting.pop()
        done.append(i)

    for i in range(len(names)):
        visit(i)
    return done


def placeholders(node: ir.Node):
    """The members `node` reads, not looking inside other recursions' series (StateOf): those are
    finished columns, their own placeholders belong to their own formulas."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen or isinstance(current, ir.StateOf):
            continue
        seen.add(id(current))
        if isinstance(current, ir.Member):
            yield current
        stack.extend(ir.children(current))


@functools.lru_cache(maxsize=4096)
def _reads_members(node: ir.Node) -> bool:
    return next(placeholders(node), None) is not None


class _Emitter:
    def __init__(self, names: tuple[str, ...]) -> None:
        self.index = {name: i for i, name in enumerate(names)}
        self.inputs: list[ir.Node] = []
        self.input_index: dict[ir.Node, int] = {}
        self.consts: list[float] = []
        self.direct: dict[int, set[int]] = {}
        self.depth = 0
        self.current = 0  # the member whose body is being emitted
        self.longest = 0  # the furthest a member is read back (PRIOR's b)

    def extra_names(self) -> tuple[str, ...]:
        """Members this emitter adds to the program (none here; see position.py)."""
        return ()

    def extra_bodies(self) -> list[ir.Node]:
        return []

    def is_input(self, node: ir.Node) -> bool:
        """Whether `node` is a whole column the plan computes first."""
        return not _reads_members(node)

    def leaf(self, node: ir.Node, shift: int) -> bool:
        """Emit `node` if it is a leaf of this emitter's own (none here); whether it was."""
        return False

    def emit_all(self, node: ir.Node) -> list[int]:
        self.code: list[int] = []
        self.stack = 0
        self._emit(node, 0)
        out, self.current = self.code, self.current + 1
        return out

    def _push(self, op: int, a: int = 0, b: int = 0) -> None:
        self.code.extend((op, a, b))
        self.stack += 1
        self.depth = max(self.depth, self.stack)

    def _apply(self, op: int, arity: int) -> None:
        self.stack -= arity - 1
        last = self.code[-3] if self.code else None
        if arity == 2 and last in oc.FUSABLE:  # the right operand was just pushed: fold it in
            self.code[-3] = op + oc.FUSED * oc.FUSABLE[last]
            return
        self.code.extend((op, 0, 0))

    def _emit(self, node: ir.Node, shift: int) -> None:
        if self.leaf(node, shift):
            return None
        if isinstance(node, ir.Const):
            self.consts.append(float(node.value))  # type: ignore[arg-type]
            return self._push(oc.CONST, len(self.consts) - 1)
        if isinstance(node, ir.Member):
            member = self.index[node.name]
            if shift == 0:
                self.direct.setdefault(self.current, set()).add(member)
                return self._push(oc.MEMBER, member)
            self.longest = max(self.longest, shift)
            return self._push(oc.PRIOR, member, shift)
        if self.is_input(node):
            return self._push(oc.INPUT, self._input(node, shift))
        if isinstance(node, ir.Op):
            return self._op(node, shift)
        if isinstance(node, ir.Call) and node.name in FUNCTIONS:
            for arg in node.args:
                self._emit(arg, shift)
            return self._apply(FUNCTIONS[node.name], len(node.args))
        raise Unsupported(_describe(node), self.culprit(node), node.span)

    def culprit(self, node: ir.Node) -> str:
        """The name whose reading makes `node` unsupported."""
        return next(placeholders(node)).name

    def _op(self, node: ir.Op, shift: int) -> None:
        if node.op == "history":
            back, arg = shift + int(node.param or 0), node.args[0]
            self._emit(arg, back)
            if back and not self._missing_before(arg):
                self.code.extend((oc.FROM_BAR, back, 0))  # what reads its leaves back can mend them (nz)
            return None
        spec = OPERATORS[node.op]
        if spec.crossing is not None:  # this bar's comparison and the last bar's
            a, b = node.args
            for step, test in zip((shift, shift + 1), spec.crossing):
                self._emit(a, step)
                self._emit(b, step)
                self._apply(OPERATORS[test].opcode, 2)  # type: ignore[arg-type]
            return self._apply(OPERATORS["and"].opcode, 2)  # type: ignore[arg-type]
        opcode = spec.opcode
        if opcode is not None:
            for arg in node.args:
                self._emit(arg, shift)
            return self._apply(opcode, len(node.args))
        raise Unsupported(_describe(node), self.culprit(node), node.span)

    def _missing_before(self, node: ir.Node) -> bool:
        """Whether `node` emitted some bars back needs no guard: a member read back and a column
        the plan shifts are missing before that many bars; a constant is itself on every bar (as
        in the reference evaluator: `1[1]` is 1)."""
        return isinstance(node, (ir.Member, ir.Const)) or self.is_input(node)

    def _input(self, node: ir.Node, shift: int) -> int:
        if shift:
            node = ir.Op("history", (node,), node.type.as_series() if node.type.kind.name != "RECORD"
                         else NUMBER_SERIES, param=shift)
        if node not in self.input_index:
            self.input_index[node] = len(self.inputs)
            self.inputs.append(node)
        return self.input_index[node]


def _describe(node: ir.Node) -> str:
    if isinstance(node, ir.Call):
        return f"`{node.name}(...)`"
    if isinstance(node, ir.FieldOf):
        return f"`{node.target.name}(...).{node.name}`"
    if isinstance(node, ir.Resample):
        return f"`@ {node.timeframe}`"
    if isinstance(node, ir.OfSymbol):
        return f"`of {node.symbol}`"
    if isinstance(node, ir.Op) and node.op in ("held_for", "held_within"):
        return f"`{node.op.split('_')[1]} … bars`"
    return "this expression"
