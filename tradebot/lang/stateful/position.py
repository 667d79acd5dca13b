"""Rules and risk values that read position state → one program the engine runs bar by bar.

`exit long when close < highest_since_entry(high) - 3 * atr(22)` reads the position, which only
the run creates, so it cannot be a whole column computed before the run (docs/design-position-
state.md). Everything in it that does not read the position stays a column of the Polars plan
(`close`, `atr(22)`, `high` for the tracked maximum: the program's INPUTs); the operators that
touch position values become instructions, position values read the engine's registers
(`STATE k`, vm/registers.py), and a recursion that reads the position joins the program as
members (its `x[1]` reads the program's own past). Reading a position value's past
(`open_profit[1]`, `crosses`) adds a member holding that value on every bar.

The program is compiled for the same interpreter as a recursion (bytecode.py, tradebot/vm).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from ...market.vocab import EXIT_REASONS
from ...vm import opcodes as oc
from ...vm import registers as rg
from .. import ir
from ..types import NUMBER_CONST, NUMBER_SERIES, Kind
from .bytecode import Bytecode, Unsupported, _Emitter, _reads_members, assemble
from .flat import flat_values

# Position values read by name, and the register each one is.
VALUES = {"position_side": rg.SIDE, "position_size": rg.SIZE, "entry_price": rg.ENTRY_PRICE,
          "entry_bar": rg.ENTRY_BAR, "bars_since_entry": rg.BARS_SINCE_ENTRY,
          "open_profit": rg.OPEN_PROFIT, "open_profit_pct": rg.OPEN_PROFIT_PCT,
          "open_entries": rg.OPEN_ENTRIES, "bars_since_exit": rg.BARS_SINCE_EXIT,
          "last_exit_reason": rg.LAST_EXIT_REASON}
# Values tracked from a column since the entry: the function, or the column it reads.
TRACKED = {"highest_since_entry": rg.TRACK_MAX, "lowest_since_entry": rg.TRACK_MIN,
           "entry_time": rg.TRACK_AT_ENTRY}
NAMES = frozenset(VALUES) | frozenset(TRACKED)
# Each position value while flat (None: it changes while flat); a tracked value is missing.
WHILE_FLAT = {**{name: rg.WHILE_FLAT.get(register) for name, register in VALUES.items()},
              **{name: math.nan for name in TRACKED}}
OUTPUT = "="  # prefix of the program's outputs among its members (never a definition's name)


def reads_position(node: ir.Node) -> bool:
    """Whether `node` reads a position value (through definitions and recursions too)."""
    return PositionReads().of(node)


class PositionReads:
    """`reads_position` of many nodes of one graph, each node looked at once."""

    def __init__(self) -> None:
        self.memo: dict[int, bool] = {}

    def of(self, root: ir.Node) -> bool:
        stack: list[tuple[ir.Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if id(node) in self.memo:
                continue
            kids = ir.children(node)
            if done or not kids:  # a leaf is settled at once (most nodes are)
                self.memo[id(node)] = ((isinstance(node, ir.Call) and node.name in NAMES)
                                       or any(self.memo[id(k)] for k in kids))
                continue
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in self.memo)
        return self.memo[id(root)]

    def first(self, node: ir.Node) -> str:
        """The first position value `node` reads (for messages)."""
        for sub in ir.walk(node):
            if isinstance(sub, ir.Call) and sub.name in NAMES:
                return sub.name
        return "position state"


@dataclass(frozen=True)
class PositionProgram:
    """The compiled program: `outputs` maps an engine input's name (`exit_long`,
    `long.stop_loss`) to its member; `tracks` (input column, registers.TRACK_*) per tracked
    value; `width`: how many bars of members the program reads back, plus one; `flat`: per
    member, its value on a bar flat since the last close where that is a constant, else NaN
    (flat.py)."""

    bytecode: Bytecode
    outputs: Mapping[str, int]
    tracks: np.ndarray
    width: int
    flat: np.ndarray

    @property
    def inputs(self) -> tuple[ir.Node, ...]:
        return self.bytecode.inputs


def compile_position(nodes: Mapping[str, ir.Node]) -> PositionProgram | None:
    """The program computing those of `nodes` that read position state (None if none does);
    raises Unsupported (bytecode.py) for what cannot be computed bar by bar."""
    reads = PositionReads()
    if not any(reads.of(node) for node in nodes.values()):
        return None  # most scripts: answered by one walk, without hashing the nodes for the cache
    return _compile(tuple(nodes.items()))


@functools.lru_cache(maxsize=256)
def _compile(items: tuple[tuple[str, ir.Node], ...]) -> PositionProgram | None:
    reads = PositionReads()
    dynamic = [(name, node) for name, node in items if reads.of(node)]
    if not dynamic:
        return None
    groups = _groups([node for _, node in dynamic], reads)
    swap = _Swap({g for g in groups})
    names: list[str] = []
    bodies: list[ir.Node] = []
    starts: list[ir.Node] = []
    for group in groups:
        names += group.names
        bodies += [swap.visit(b) for b in group.bodies]
        starts += [swap.visit(s) for s in group.starts]
    missing = ir.Const(math.nan, NUMBER_CONST)
    for name, node in dynamic:
        names.append(OUTPUT + name)
        bodies.append(swap.visit(node))
        starts.append(missing)
    emitter = _PositionEmitter(tuple(names), reads)
    program = assemble(ir.Recurrence(tuple(names), tuple(bodies), tuple(starts)), emitter)
    tracks = np.asarray(emitter.tracks, dtype=np.int64).reshape(-1, 2)
    outputs = {name[len(OUTPUT):]: i for i, name in enumerate(program.names) if name.startswith(OUTPUT)}
    flat = flat_values(program.names, dict(zip(program.names, bodies + emitter.extra_bodies())), WHILE_FLAT)
    return PositionProgram(program, outputs, tracks, emitter.longest + 1, flat)


def _groups(roots: Iterable[ir.Node], reads: PositionReads) -> list[ir.Recurrence]:
    """The recursions reading position state that `roots` read, each once, in first-seen order."""
    found: dict[ir.Recurrence, None] = {}
    for node in ir.walk(*roots):
        if isinstance(node, ir.Recurrence) and reads.of(node):
            found[node] = None
    return list(found)


class _Swap:
    """A node with each member of the given recursions read as a program member (ir.Member)."""

    def __init__(self, groups: set[ir.Recurrence]) -> None:
        self.groups = groups
        self.memo: dict[int, ir.Node] = {}

    def visit(self, node: ir.Node) -> ir.Node:
        if id(node) in self.memo:
            return self.memo[id(node)]
        out: ir.Node = node
        if isinstance(node, ir.StateOf):
            if node.group in self.groups:
                out = ir.Member(node.name, node.type, node.span)
        elif isinstance(node, (ir.Op, ir.Call)):
            out = dataclasses.replace(node, args=tuple(self.visit(a) for a in node.args))
        elif isinstance(node, ir.FieldOf):
            out = dataclasses.replace(node, target=self.visit(node.target))
        elif isinstance(node, (ir.Resample, ir.OfSymbol)):
            out = dataclasses.replace(node, expr=self.visit(node.expr))
        self.memo[id(node)] = out
        return out


class _PositionEmitter(_Emitter):
    """The recursion emitter, plus position values as registers and their past as members."""

    def __init__(self, names: tuple[str, ...], reads: PositionReads) -> None:
        super().__init__(names)
        self.reads = reads
        self.tracks: list[tuple[int, int]] = []
        self.pasts: dict[int, ir.Node] = {}  # register -> the leaf whose past a member keeps

    def extra_names(self) -> tuple[str, ...]:
        return tuple(f"#{register}" for register in self.pasts)

    def extra_bodies(self) -> list[ir.Node]:
        return list(self.pasts.values())

    def is_input(self, node: ir.Node) -> bool:
        return not _reads_members(node) and not self.reads.of(node)

    def culprit(self, node: ir.Node) -> str:
        return self.reads.first(node) if self.reads.of(node) else super().culprit(node)

    def leaf(self, node: ir.Node, shift: int) -> bool:
        if isinstance(node, ir.Const) and node.type.kind is Kind.STRING:
            self.consts.append(float(exit_reason_code(str(node.value))))
            self._push(oc.CONST, len(self.consts) - 1)
            return True
        if not (isinstance(node, ir.Call) and node.name in NAMES):
            return False
        register = self._register(node)
        if shift == 0:
            self._push(oc.STATE, register)
            return True
        key = f"#{register}"
        if key not in self.index:
            self.index[key] = len(self.index)
            self.pasts[register] = node
        self.longest = max(self.longest, shift)
        self._push(oc.PRIOR, self.index[key], shift)
        return True

    def _register(self, node: ir.Call) -> int:
        if node.name in VALUES:
            return VALUES[node.name]
        column = node.args[0] if node.args else ir.Call("time", (), NUMBER_SERIES)
        if not self.is_input(column):
            raise Unsupported(f"`{node.name}(...)`", self.culprit(column), node.span)
        track = (self._input(column, 0), TRACKED[node.name])
        if track not in self.tracks:
            self.tracks.append(track)
        return rg.TRACKS + self.tracks.index(track)


def exit_reason_code(reason: str) -> int:
    """The engine's code of an exit reason (`last_exit_reason == "stop"`); -1 if unknown."""
    return EXIT_REASONS.index(reason) if reason in EXIT_REASONS else -1
