"""The checked, resolved form of a script's expressions — what the compiler and the reference
evaluator both consume.

The checker produces it from the AST: names resolved, user functions expanded, params replaced by
their values, constants folded. Nodes compare and hash by structure (spans excluded), which is how
the compiler computes a shared subexpression once however many times it is written.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Callable, Iterator, Union

from .ast import NOWHERE, Span
from .types import Type


def _span() -> Span:
    return field(default=NOWHERE, compare=False, hash=False, repr=False)


class _Shared:
    """Hashing and equality by structure, each in time linear in the graph. Resolved expressions
    share subexpressions (a definition used twice is one node: a DAG), and a hash or a comparison
    recursing through every path would take 2^depth steps: `a1 = a0 + a0`, `a2 = a1 + a1`, ...
    (issue 10.11). The hash is computed once per node. Equality matters across two compiles of
    the same script (a cache keyed by nodes: the nodes are equal but not the same objects), so it
    walks both graphs once, remembering the pairs already found equal."""

    def __hash__(self) -> int:
        cached = self.__dict__.get("_hash")
        if cached is None:
            values = _VALUES.get(type(self)) or _values_of(type(self))
            cached = self.__dict__["_hash"] = hash((type(self).__name__, *values(self)))
        return cached

    def __getstate__(self) -> dict[str, object]:
        # String hashes differ between processes: a pickled node recomputes its own.
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(self) is not type(other):
            return NotImplemented
        return hash(self) == hash(other) and _same_structure(self, other)


def _same_structure(left: object, right: object) -> bool:
    """Whether two node graphs are equal, field by compared field, without recursion; each pair
    of nodes is compared once however many paths lead to it, and once per `shared_equality`
    scope however many comparisons reach it."""
    proven = _PROVEN.get()
    if proven is not None and _representative(proven, left) is _representative(proven, right):
        return True
    stack, equal = [(left, right)], {}
    while stack:
        a, b = stack.pop()
        if a is b or (id(a), id(b)) in equal:
            continue
        if isinstance(a, tuple) and isinstance(b, tuple):
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b))
        elif hasattr(a, "__dataclass_fields__"):
            if type(a) is not type(b) or (isinstance(a, _Shared) and hash(a) != hash(b)):
                return False
            if proven is not None and _representative(proven, a) is _representative(proven, b):
                continue
            equal[id(a), id(b)] = (a, b)  # kept, so no id in `equal` is a freed node's, reused
            stack.extend(_field_pairs(a, b))
        elif a != b:
            return False
    if proven is not None:  # only now: a failed walk had not yet compared what it had seen
        for a, b in equal.values():
            _join(proven, a, b)
    return True


def _field_pairs(a: object, b: object) -> list[tuple[object, object]]:
    """The compared fields of two nodes of one class, pair by pair (spans are not compared)."""
    return [(getattr(a, name), getattr(b, name)) for name in _compared(type(a))]


def _compared(cls: type) -> tuple[str, ...]:
    """The names of a dataclass's compared fields (`dataclasses.fields` builds its list anew on
    every call: a checker's hashing spent more time there than hashing)."""
    names = _COMPARED.get(cls)
    if names is None:
        names = _COMPARED[cls] = tuple(f.name for f in fields(cls) if f.compare)
    return names


_COMPARED: dict[type, tuple[str, ...]] = {}  # one entry per node class


def _values_of(cls: type) -> Callable[[object], tuple[object, ...]]:
    """A function giving a node's compared field values as a tuple (attrgetter: one C call)."""
    names = _compared(cls)
    _VALUES[cls] = attrgetter(*names) if len(names) > 1 else (lambda node: (getattr(node, names[0]),))
    return _VALUES[cls]


_VALUES: dict[type, Callable[[object], tuple[object, ...]]] = {}  # one entry per node class

# Within a `shared_equality` scope: the nodes proven equal, as classes of a union-find forest,
# id(node) -> (node, a node of its class nearer the class's representative). Each entry keeps
# both nodes referenced, so an id in it is never a freed node's reused by a new one. A ContextVar:
# each thread (the dashboard compiles in threads) has its own scope or none.
_Proven = dict[int, tuple[object, object]]
_PROVEN: ContextVar[_Proven | None] = ContextVar("ir_proven_equal", default=None)


@contextmanager
def shared_equality() -> Iterator[None]:
    """Within the block, node pairs found equal are remembered: the next comparison reaching them
    (a dict keyed by nodes, looking up an equal node of another graph) costs a lookup instead of a
    walk of their graphs. The memory goes with the block (a nested block shares its outer one's)."""
    if _PROVEN.get() is not None:
        yield
        return
    token = _PROVEN.set({})
    try:
        yield
    finally:
        _PROVEN.reset(token)


def _representative(proven: _Proven, node: object) -> object:
    entry = proven.get(id(node))
    while entry is not None:
        node = entry[1]
        entry = proven.get(id(node))
    return node


def _join(proven: _Proven, a: object, b: object) -> None:
    """Put `b`'s class into `a`'s (a dict's stored key is `a` of its comparisons: the older
    node stays its class's representative, the chains one step long)."""
    root_a, root_b = _representative(proven, a), _representative(proven, b)
    if root_a is not root_b:
        proven[id(root_b)] = (root_b, root_a)


@dataclass(frozen=True)
class Const(_Shared):
    """A compile-time constant (number, bool or string)."""

    value: float | bool | str
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Op(_Shared):
    """An operator on series: arithmetic, comparison, logic, if/else, crosses, history, streaks.

    `op` names its spec in lang/operators.py; `param` carries a constant operand (the bar count of `history`,
    `held_for`, `held_within`).
    """

    op: str
    args: tuple[Node, ...]
    type: Type
    param: int | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Call(_Shared):
    """A builtin applied to arguments (constants arrive as Const nodes, in parameter order)."""

    name: str
    args: tuple[Node, ...]
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class FieldOf(_Shared):
    """One named output of a multi-output builtin call."""

    target: Call
    name: str
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Resample(_Shared):
    """`expr @ timeframe`: evaluated on higher-timeframe bars, visible after they close."""

    expr: Node
    timeframe: str
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class OfSymbol(_Shared):
    """`expr of SYMBOL`: evaluated on another symbol's own bars, read on the script's bar with the
    same open time (missing where that symbol has no such bar; docs/language.md)."""

    expr: Node
    symbol: str
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Member:
    """Inside a recursion's formulas: definition `name` of the group on the bar being computed
    (its past is `history` of it). Only a Recurrence's bodies hold these."""

    name: str
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Recurrence:
    """Definitions that read their own past (`streak = ... streak[1] ... starting 0`), computed
    together bar by bar (lang/stateful/). `bodies[i]` and `starts[i]` belong to `names[i]`; a
    member is its start value until its body first has a value."""

    names: tuple[str, ...]
    bodies: tuple[Node, ...]
    starts: tuple[Node, ...]
    spans: tuple[Span, ...] = field(default=(), compare=False, hash=False, repr=False)

    @property
    def type(self) -> Type:  # not a value itself; its members are read through StateOf
        return self.bodies[0].type


@dataclass(frozen=True)
class StateOf:
    """The series of one member of a recursion."""

    group: Recurrence
    name: str
    type: Type
    span: Span = _span()


Node = Union[Const, Op, Call, FieldOf, Resample, OfSymbol, Member, Recurrence, StateOf]

for _node_class in (Const, Op, Call, FieldOf, Resample, OfSymbol):
    _node_class.__hash__ = _Shared.__hash__  # type: ignore[method-assign]  # @dataclass set its own
    _node_class.__eq__ = _Shared.__eq__  # type: ignore[method-assign]

def walk(*roots: Node) -> Iterator[Node]:
    """Every node under `roots`, each shared subexpression once. Iterative (a deeply nested script
    must not hit Python's recursion limit) and by identity (a definition used twice is one object:
    walking it as a tree would double the work with each level of reuse)."""
    stack, seen = list(roots), set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(reversed(children(node)))


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (Op, Call)):
        return node.args
    if isinstance(node, FieldOf):
        return (node.target,)
    if isinstance(node, (Resample, OfSymbol)):
        return (node.expr,)
    if isinstance(node, StateOf):
        return (node.group,)
    if isinstance(node, Recurrence):
        return (*node.bodies, *node.starts)
    return ()


def symbols(*roots: Node) -> tuple[str, ...]:
    """The other symbols `roots` read (`close of BTCUSDT`), in name order."""
    return tuple(sorted({n.symbol for n in walk(*roots) if isinstance(n, OfSymbol)}))


def depth(node: Node, known: dict[int, tuple[Node, int]]) -> int:
    """Levels of `node`'s graph, without recursion. `known` caches each node's depth by id (the
    node kept beside it, so a freed node's id is never mistaken for a new node's)."""
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        if id(current) in known:
            continue
        below = children(current)
        if not below:  # a leaf: known at once (most nodes are)
            known[id(current)] = (current, 1)
        elif children_done:
            known[id(current)] = (current, 1 + max(known[id(c)][1] for c in below))
        else:
            stack.append((current, True))
            stack.extend((c, False) for c in below if id(c) not in known)
    return known[id(node)][1]
