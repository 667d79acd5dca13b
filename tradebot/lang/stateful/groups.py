"""Forming recursions while the checker resolves definitions.

A definition that reaches itself again through history (`streak[1]`, or `b[1]` where b reads
streak) and declares `starting` is read there as a placeholder (ir.Member). When the outermost
member of the cycle is resolved, its members become one ir.Recurrence and every placeholder
outside the recursion's own formulas becomes that member's series (ir.StateOf). A cycle without
history (`a = b`, `b = a`) or without a start value is an error, reported where it closes.

Cycles are entered at a definition with `starting` (the checker resolves those first, and
`enter_first` sends a plain member's resolution to them), so where a placeholder is needed there
is a declared start value, and so a type, to give it.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, MutableMapping, Sequence

from .. import ast, ir
from ..ast import Span
from ..resolve import INVALID, Resolver, is_invalid
from ..types import Kind
from .bytecode import DirectCycle, Unsupported, compile_group, placeholders

ErrorFn = Callable[..., object]
_KIND = {Kind.NUMBER: "a number", Kind.BOOL: "a condition", Kind.STRING: "a string", Kind.RECORD: "several series"}
HISTORY_HINT = "a series can read its own past through history, e.g. `{name}[1]` (the previous bar), with a start value: `{name} = ... starting 0`"


def reference_graph(assigns: Sequence[ast.Assign], functions: Mapping[str, ast.FuncDef]) -> dict[str, set[str]]:
    """Which definitions each definition's formula may read (through user functions too; each
    function's names are gathered once, so functions calling functions stay linear)."""
    by_function: dict[str, frozenset[str]] = {}

    def names(node: object) -> set[str]:
        out: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                out.add(sub.id)
            elif isinstance(sub, ast.Call) and sub.func in functions:
                out |= function_names(sub.func)
        return out

    def function_names(func: str) -> frozenset[str]:
        if func not in by_function:
            by_function[func] = frozenset()  # a recursive function (an error of its own) stops here
            by_function[func] = frozenset(names(functions[func].body))
        return by_function[func]

    known = {a.name for a in assigns}
    return {a.name: names(a.value) & known for a in assigns}


def cycles(graph: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    """Each name's strongly connected component (names that may read each other), by Kosaraju's
    two passes, iterative: linear in the script, however many definitions it has."""
    order: list[str] = []
    seen: set[str] = set()
    for root in graph:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(graph[root]))]
        while stack:
            node, edges = stack[-1]
            nxt = next((n for n in edges if n not in seen), None)
            if nxt is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(nxt)
                stack.append((nxt, iter(graph.get(nxt, ()))))
    reverse: dict[str, set[str]] = {name: set() for name in graph}
    for name, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, set()).add(name)
    component: dict[str, frozenset[str]] = {}
    for root in reversed(order):
        if root in component:
            continue
        members, todo = {root}, [root]
        while todo:
            for prev in reverse[todo.pop()]:
                if prev not in members and prev not in component:
                    members.add(prev)
                    todo.append(prev)
        group = frozenset(members)
        component.update(dict.fromkeys(members, group))
    return component


class Recursions:
    """The checker's bookkeeping of recursions being formed."""

    def __init__(self, error: ErrorFn, resolver: Resolver) -> None:
        self.error = error
        self.resolver = resolver  # its cache of function expansions must not outlive a placeholder
        self.starts: dict[str, ir.Node] = {}  # resolved start values
        self.in_start: set[str] = set()  # definitions whose start value is being resolved
        self.placeheld: set[str] = set()  # members read through a placeholder, group still open
        self.pending: dict[str, tuple[ir.Node, ir.Node, ast.Assign]] = {}  # finished members, group open
        self.tainted: set[str] = set()  # definitions whose value holds an open placeholder

    def reenter(self, stmt: ast.Assign, chain: list[str], through_history: bool, span: Span) -> ir.Node:
        """`stmt` reached again while it is being resolved."""
        name = stmt.name
        if name in self.in_start:
            return self._fail(f"the start value of `{name}` cannot read `{name}`", span,
                              "start from the bars or a constant, e.g. `starting close`")
        if not through_history:
            return self._fail(f"circular definition: {' → '.join(chain)}", span, HISTORY_HINT.format(name=name))
        if stmt.start is None:
            return self._fail(f"`{name}` reads its own past, so it needs a start value", span,
                              f"end line {stmt.span.line} with `starting VALUE`: what `{name}` is until its "
                              "formula has a value, e.g. `starting 0`")
        start = self.starts.get(name, INVALID)
        if is_invalid(start):
            return INVALID
        self.placeheld.add(name)
        self.resolver.epoch += 1
        return ir.Member(name, start.type.as_series(), span)

    def finish(self, stmt: ast.Assign, value: ir.Node, start: ir.Node | None, stack: Sequence[str],
               resolved: MutableMapping[str, ir.Node]) -> ir.Node:
        """`stmt` resolved to `value`: its series (a placeholder while its recursion is open)."""
        name = stmt.name
        if name not in self.placeheld:
            if start is not None and not is_invalid(start) and stmt.start is not None:
                self.error(f"`{name}` does not read its own past, so `starting` has nothing to start",
                           stmt.start.span, f"remove `starting ...`, or read the previous bar with `{name}[1]`")
            if self.placeheld and _holds(value, self.placeheld):
                self.tainted.add(name)
            return value
        assert start is not None  # only definitions with `starting` get placeholders
        if not is_invalid(value) and not is_invalid(start) and value.type.kind is not start.type.kind:
            self.error(f"`{name}` starts as {_KIND[start.type.kind]} but its formula gives "
                       f"{_KIND[value.type.kind]}", stmt.start.span,  # type: ignore[union-attr]
                       "start a number with a number, and a condition with true or false")
            value = INVALID
        self.pending[name] = (value, start, stmt)
        resolved[name] = ir.Member(name, start.type.as_series(), stmt.name_span)
        members = self._closure(name)
        if members is not None and not members & set(stack):
            self._close(members, resolved)
        return resolved[name]

    def _closure(self, name: str) -> set[str] | None:
        """The members `name`'s formula reaches through placeholders; None if one is unfinished."""
        members, todo = set(), [name]
        while todo:
            member = todo.pop()
            if member in members:
                continue
            if member not in self.pending:
                return None
            members.add(member)
            body, _, _ = self.pending[member]
            todo.extend(n.name for n in placeholders(body))
        return members

    def _close(self, members: set[str], resolved: MutableMapping[str, ir.Node]) -> None:
        names = sorted(members, key=lambda n: self.pending[n][2].span.start)
        entries = [self.pending.pop(n) for n in names]
        self.placeheld -= members
        self.resolver.epoch += 1
        group = self._group(names, entries)
        mapping: dict[str, ir.Node] = {}
        for name, (body, _, stmt) in zip(names, entries):
            mapping[name] = (INVALID if group is None else
                             ir.StateOf(group, name, body.type.as_series(), stmt.name_span))
            resolved[name] = mapping[name]
        for name in sorted(self.tainted):
            if _holds(resolved[name], members):
                resolved[name] = INVALID if group is None else substitute(resolved[name], mapping)
                if not _holds(resolved[name], self.placeheld):
                    self.tainted.discard(name)

    def _group(self, names: list[str], entries: list[tuple[ir.Node, ir.Node, ast.Assign]]) -> ir.Recurrence | None:
        if any(is_invalid(body) or is_invalid(start) for body, start, _ in entries):
            return None  # already reported
        group = ir.Recurrence(tuple(names), tuple(e[0] for e in entries), tuple(e[1] for e in entries),
                              tuple(e[2].name_span for e in entries))
        try:
            compile_group(group)
        except Unsupported as exc:
            self.error(f"{exc.what} cannot read `{exc.member}` inside its own recursion", exc.span,
                       "a series that reads its own past is computed bar by bar with arithmetic, "
                       "comparisons, `if`, and abs, min, max, nz, clip, sign, sqrt, log, exp; "
                       f"compute {exc.what} of `{exc.member}` in another definition")
            return None
        except DirectCycle as exc:
            stmt = entries[names.index(exc.names[0])][2]
            self.error(f"circular definition: {' → '.join(exc.names)}", stmt.name_span,
                       HISTORY_HINT.format(name=exc.names[0]))
            return None
        return group

    def _fail(self, message: str, span: Span, hint: str) -> ir.Node:
        self.error(message, span, hint)
        return INVALID


def _holds(node: ir.Node, names: set[str]) -> bool:
    return bool(names) and any(n.name in names for n in placeholders(node))


def substitute(node: ir.Node, mapping: Mapping[str, ir.Node]) -> ir.Node:
    """`node` with each placeholder of `mapping`'s members replaced by its series. Recurrence
    bodies keep theirs: inside the recursion a member is read bar by bar."""
    memo: dict[int, ir.Node] = {}

    def visit(n: ir.Node) -> ir.Node:
        if id(n) in memo:
            return memo[id(n)]
        if isinstance(n, ir.Member):
            out = mapping.get(n.name, n)
        elif isinstance(n, ir.StateOf):
            out = n  # a finished recursion: its placeholders are its own
        elif isinstance(n, (ir.Op, ir.Call)):
            out = dataclasses.replace(n, args=tuple(visit(a) for a in n.args))
        elif isinstance(n, ir.FieldOf):
            out = dataclasses.replace(n, target=visit(n.target))
        elif isinstance(n, (ir.Resample, ir.OfSymbol)):
            out = dataclasses.replace(n, expr=visit(n.expr))
        else:
            out = n
        memo[id(n)] = out
        return out

    return visit(node)
