"""Expressions → typed IR: names resolved, user functions expanded, constants folded, types checked.

Errors are collected, not raised: an erroneous subexpression becomes INVALID, which absorbs further
errors about itself so one mistake yields one message.
"""
from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Callable, Collection, Mapping

import numpy as np

from ..market.timeframe import parse_timeframe
from . import ast, ir
from .ast import Span
from .builtin_spec import Builtin, ParamSpec, PriceDefault
from .builtins import REGISTRY
from .diagnostics import Diagnostic, did_you_mean
from .library.pine_names import pine_hint
from .operators import OPERATORS
from .unparse import expr as unparse_expr
from .types import BOOL_CONST, BOOL_SERIES, NUMBER_CONST, NUMBER_SERIES, STRING_CONST, ArgKind, Kind, Type

# The largest window, bar count, history offset or other whole-number argument: more bars than
# any data set holds (ten million 1-minute bars are 19 years). A run also refuses a window longer
# than its data (compiler.Plan); this bound keeps absurd values (`1e38`) out of the compiler.
MAX_WHOLE = 10_000_000
# Levels of resolving (expression nesting plus the definitions and functions it reads): the
# resolver, the compiler and hashing recurse once per level, and Python's stack allows ~1,000 calls.
MAX_DEPTH = 200
MAX_EXPANSIONS = 10_000  # different user-function calls (same function, different arguments)
INVALID = ir.Const(float("nan"), Type(Kind.NUMBER, False, ("<invalid>",)))


def is_invalid(node: ir.Node) -> bool:
    # Only a constant of INVALID's own type can equal it (a copy with another span): no other node
    # is compared, which would hash its graph (a checker asks of every node it builds).
    return node is INVALID or (type(node) is ir.Const and node.type.fields == _INVALID_FIELDS and node == INVALID)


_INVALID_FIELDS = INVALID.type.fields


def const(value: object, type_: Type, span: Span) -> ir.Const:
    return ir.Const(value, type_, span)  # type: ignore[arg-type]


# A symbol as exchanges write it (`BTCUSDT`, `1000PEPEUSDT`, `BTC-27DEC24`): also a safe folder name.
SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass
class Scope:
    """What names mean while resolving: script definitions plus a user function's arguments."""

    lookup_definition: Callable[[str, Span], ir.Node | None]
    functions: Mapping[str, ast.FuncDef]
    known_names: Callable[[], list[str]]
    locals: Mapping[str, ir.Node]
    stack: tuple[str, ...] = ()  # user functions being expanded (recursion detection)
    broken: Collection[str] = ()  # names of statements that failed to parse: no more errors on them


class Resolver:
    """Resolves expressions in a scope; `diagnostics` collects every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        self._seen: set[tuple[str, int]] = set()
        self.expanded: set[str] = set()  # user functions called at least once
        # (function, its arguments' IR) -> the expansion: a call repeated with the same arguments
        # is one shared node, so `def f2(x) = f1(x) + f1(x)` chains stay linear (issue 10.11).
        self._expansions: dict[tuple[object, ...], ir.Node] = {}
        self._depth = 0  # resolve() calls in progress: bounded, as Python's stack is
        self._deep_reported = False
        self._depths: dict[int, tuple[ir.Node, int]] = {}  # ir.depth's cache
        self.history_depth = 0  # how many `x[n >= 1]` enclose the expression being resolved
        self.epoch = 0  # bumped when a recursion's placeholders appear or are replaced

    def error(self, message: str, span: Span, hint: str | None = None, notes: tuple[str, ...] = ()) -> ir.Const:
        key = (message, span.start)
        if key not in self._seen:  # an expanded function reports a body error once, not per call
            self._seen.add(key)
            self.diagnostics.append(Diagnostic(message, span, hint, notes=notes))
        return INVALID

    # ------------------------------------------------------------ dispatch
    def resolve(self, node: ast.Expr, scope: Scope) -> ir.Node:
        if self._depth >= MAX_DEPTH:
            return self._too_deep(node.span)
        self._depth += 1
        try:
            return _RESOLVE[type(node)](self, node, scope)
        finally:
            self._depth -= 1

    def bounded(self, node: ir.Node, span: Span) -> ir.Node:
        """`node`, or INVALID (with the error) when its graph is deeper than the compiler can take:
        definitions built on definitions nest without any one of them being deep."""
        if is_invalid(node) or ir.depth(node, self._depths) <= MAX_DEPTH:
            return node
        return self._too_deep(span)

    def _too_deep(self, span: Span) -> ir.Node:
        if not self._deep_reported:  # once: every level above would say it again
            self._deep_reported = True
            self.error(f"expression nested too deeply (limit {MAX_DEPTH} levels, counting the "
                       "definitions and functions it uses)", span,
                       "fewer levels of definitions that use definitions, or of nested calls")
        return INVALID

    def _number(self, node: ast.Number, scope: Scope) -> ir.Node:
        return const(int(node.value) if node.is_int else node.value, NUMBER_CONST, node.span)

    def _percent(self, node: ast.Percent, scope: Scope) -> ir.Node:
        return const(node.value, NUMBER_CONST, node.span)

    def _string(self, node: ast.String, scope: Scope) -> ir.Node:
        return const(node.value, STRING_CONST, node.span)

    def _bool(self, node: ast.Bool, scope: Scope) -> ir.Node:
        return const(node.value, BOOL_CONST, node.span)

    def _name(self, node: ast.Name, scope: Scope) -> ir.Node:
        if node.id in scope.locals:
            return scope.locals[node.id]
        found = scope.lookup_definition(node.id, node.span)
        if found is not None:
            return found
        if node.id in scope.broken:
            return INVALID  # its statement has a syntax error, already reported
        builtin = REGISTRY.get(node.id)
        if builtin is not None and builtin.is_series:
            return ir.Call(node.id, (), builtin.returns, node.span)
        if builtin is not None and builtin.bare:  # `hour`: the call with every default
            return ir.Call(node.id, tuple(self._default(p, node.span) for p in builtin.params),
                           builtin.returns, node.span)
        if builtin is not None:
            return self.error(f"`{node.id}` is a function, not a value", node.span,
                              f"call it, for example `{builtin.example}`")
        if node.id in scope.functions:
            return self.error(f"`{node.id}` is a function, not a value", node.span,
                              f"call it with its arguments: `{node.id}(...)`")
        return self.error(f"unknown name `{node.id}`", node.span, pine_hint(node.id, REGISTRY)
                          or did_you_mean(node.id, [*scope.known_names(), *scope.locals]))

    # ------------------------------------------------------------ operators
    def _unary(self, node: ast.Unary, scope: Scope) -> ir.Node:
        operand = self.resolve(node.operand, scope)
        if is_invalid(operand):
            return INVALID
        spec = OPERATORS[node.op]
        if not self._expect(operand, spec.operand, f"`{spec.words[0]}`", node.operand.span):
            return INVALID
        if isinstance(operand, ir.Const):
            value = spec.fold(operand.value)  # type: ignore[misc]
            value = bool(value) if spec.result is Kind.BOOL else value
            return const(value, Type(spec.result, False), node.span)  # type: ignore[arg-type]
        return ir.Op(node.op, (operand,), Type(spec.result, True), span=node.span)  # type: ignore[arg-type]

    def _binary(self, node: ast.Binary, scope: Scope) -> ir.Node:
        left, right = self.resolve(node.left, scope), self.resolve(node.right, scope)
        if is_invalid(left) or is_invalid(right):
            return INVALID
        spec = OPERATORS[node.op]
        # `==` and `!=` also compare conditions and strings (params); everything else wants its kind.
        equal_kinds = spec.equality and left.type.kind in (Kind.BOOL, Kind.STRING)
        want, result = (left.type.kind if equal_kinds else spec.operand), spec.result
        ok_left = self._expect(left, want, f"`{node.op}`", node.left.span)
        ok_right = self._expect(right, want, f"`{node.op}`", node.right.span)
        if not (ok_left and ok_right):
            return INVALID
        if isinstance(left, ir.Const) and isinstance(right, ir.Const):
            return self._fold_binary(node, left.value, right.value, result)
        return ir.Op(node.op, (left, right), Type(result, True), span=node.span)

    def _fold_binary(self, node: ast.Binary, a: object, b: object, result: Kind) -> ir.Node:
        fold = OPERATORS[node.op].fold
        if result is Kind.BOOL:
            return const(bool(fold(a, b)), BOOL_CONST, node.span)  # type: ignore[misc]
        if node.op in ("/", "%") and b == 0:
            return self.error("division by zero", node.span, "the right-hand side is a constant 0")
        try:
            # In floats: an integer `10^10^10` would be computed exactly, for ever.
            value = fold(float(a), float(b))  # type: ignore[arg-type,misc]
        except OverflowError:
            return self.error("this constant is too large", node.span, "numbers go up to about 1.8e308")
        except (ZeroDivisionError, ValueError) as exc:
            return self.error(f"cannot compute this constant: {exc}", node.span)
        if isinstance(value, complex):
            return self.error("this constant is not a real number", node.span)
        value = float(value)
        if not np.isfinite(value):
            return self.error("this constant is too large", node.span, "numbers go up to about 1.8e308")
        if isinstance(a, int) and isinstance(b, int) and value.is_integer() and abs(value) < 2 ** 53:
            value = int(value)  # whole numbers stay whole: `n * 2` is still a window length
        return const(value, NUMBER_CONST, node.span)

    def _crosses(self, node: ast.Crosses, scope: Scope) -> ir.Node:
        left, right = self.resolve(node.left, scope), self.resolve(node.right, scope)
        if is_invalid(left) or is_invalid(right):
            return INVALID
        what = f"`crosses {node.direction}`"
        if not (self._expect(left, Kind.NUMBER, what, node.left.span)
                and self._expect(right, Kind.NUMBER, what, node.right.span)):
            return INVALID
        return ir.Op(f"crosses_{node.direction}", (left, right), BOOL_SERIES, span=node.span)

    def _ifelse(self, node: ast.IfElse, scope: Scope) -> ir.Node:
        cond = self.resolve(node.cond, scope)
        then, other = self.resolve(node.then, scope), self.resolve(node.otherwise, scope)
        if any(is_invalid(x) for x in (cond, then, other)):
            return INVALID
        if not self._expect(cond, Kind.BOOL, "`if`", node.cond.span):
            return INVALID
        kind = then.type.kind
        if kind not in (Kind.NUMBER, Kind.BOOL) or other.type.kind is not kind:
            return self.error("both branches of `if` must be numbers, or both conditions", node.span,
                              f"`then` gives {then.type.describe()}, `else` gives {other.type.describe()}")
        if isinstance(cond, ir.Const):
            return then if cond.value else other
        return ir.Op("if", (cond, then, other), Type(kind, True), span=node.span)

    def _history(self, node: ast.History, scope: Scope) -> ir.Node:
        offset = self.resolve(node.offset, scope)
        known = isinstance(offset, ir.Const) and isinstance(offset.value, (int, float)) and offset.value >= 1
        # Names read a bar or more back: a definition may read its own past (lang/stateful/).
        self.history_depth += known
        target = self.resolve(node.target, scope)
        self.history_depth -= known
        if is_invalid(target) or is_invalid(offset):
            return INVALID
        bars = self.constant_int(offset, node.offset.span, "a history offset", minimum=None)
        if bars is None:
            return INVALID
        if bars < 0:
            return self.error(f"history offset {bars} would read a future bar", node.offset.span,
                              "history only looks back: `x[1]` is the previous bar; a negative "
                              "offset is not allowed (no lookahead)")
        if target.type.kind is Kind.RECORD:
            return self._record_misuse(target, node.target.span)
        if bars == 0 or isinstance(target, ir.Const):
            return target
        return ir.Op("history", (target,), target.type.as_series(), param=bars, span=node.span)

    def _streak(self, node: ast.Streak, scope: Scope) -> ir.Node:
        cond, bars_node = self.resolve(node.cond, scope), self.resolve(node.bars, scope)
        if is_invalid(cond) or is_invalid(bars_node):
            return INVALID
        if not self._expect(cond, Kind.BOOL, f"`{node.kind} … bars`", node.cond.span):
            return INVALID
        bars = self.constant_int(bars_node, node.bars.span, "a bar count", minimum=1)
        if bars is None:
            return INVALID
        op = "held_for" if node.kind == "for" else "held_within"
        return ir.Op(op, (cond,), BOOL_SERIES, param=bars, span=node.span)

    def _field(self, node: ast.Field, scope: Scope) -> ir.Node:
        dotted = f"{node.target.id}.{node.name}" if isinstance(node.target, ast.Name) else ""
        pine = pine_hint(dotted, REGISTRY) if dotted else None
        if pine and node.target.id not in scope.locals \
                and scope.lookup_definition(node.target.id, node.span) is None:
            return self.error(f"unknown name `{dotted}`", node.span, pine)  # `ta.tr`: Pine's name
        target = self.resolve(node.target, scope)
        if is_invalid(target):
            return INVALID
        if target.type.kind is not Kind.RECORD or not isinstance(target, ir.Call):
            return self.error(f"a {target.type.describe()} has no field `{node.name}`", node.span,
                              "fields belong to multi-output indicators, e.g. `macd(close).signal`")
        if node.name not in target.type.fields:
            return self.error(f"`{target.name}` has no field `{node.name}`", node.span,
                              did_you_mean(node.name, target.type.fields)
                              or "its fields are " + ", ".join(target.type.fields))
        return ir.FieldOf(target, node.name, NUMBER_SERIES, node.span)

    def _attimeframe(self, node: ast.AtTimeframe, scope: Scope) -> ir.Node:
        """`expr @ 4h`: expr computed on 4h bars, each visible once closed (lang/timeframes.py)."""
        inner = self.resolve(node.expr, scope)
        if is_invalid(inner):
            return INVALID
        try:
            frame = parse_timeframe(node.timeframe)
        except ValueError as exc:
            return self.error(str(exc), node.span)
        early = self._lifted_operand(inner, node, "have a timeframe")
        if early is not None:
            return early
        for sub in ir.walk(inner):
            if isinstance(sub, ir.OfSymbol):
                return self.error(f"`of {sub.symbol}` inside `@ {frame.text}`", sub.span,
                                  f"put the timeframe inside: `(... @ {frame.text}) of {sub.symbol}`")
            if isinstance(sub, ir.Resample) and not parse_timeframe(sub.timeframe).is_multiple_of(frame):
                return self.error(f"`@ {sub.timeframe}` inside `@ {frame.text}` must be a whole multiple "
                                  f"of {frame.text}", sub.span if sub.span.line else node.span,
                                  f"inside `(...) @ {frame.text}` every bar is {frame.describe()} long")
        return ir.Resample(inner, frame.text, inner.type.as_series(), span=node.span)

    def _lifted_operand(self, inner: ir.Node, node: ast.AtTimeframe | ast.OfSymbol, what: str) -> ir.Node | None:
        """What `expr @ tf` and `expr of SYMBOL` are when `expr` cannot be computed on other bars
        (an error) or needs not be (a constant, the same on any bars); None otherwise."""
        if inner.type.kind is Kind.RECORD:
            return self._record_misuse(inner, node.expr.span)
        if inner.type.kind is Kind.STRING:
            return self.error(f"only numbers and conditions {what}", node.span)
        return inner if isinstance(inner, ir.Const) else None

    def _ofsymbol(self, node: ast.OfSymbol, scope: Scope) -> ir.Node:
        """`expr of BTCUSDT`: expr computed on that symbol's bars, read on the script's bar with
        the same open time (compiler: SymbolStep; docs/language.md, "Other symbols")."""
        inner = self.resolve(node.expr, scope)
        if is_invalid(inner):
            return INVALID
        if not SYMBOL.fullmatch(node.symbol):
            return self.error(f"`{node.symbol}` is not a symbol name", node.symbol_span,
                              "a symbol is letters, digits, `_`, `-` or `.`, e.g. `of BTCUSDT`")
        early = self._lifted_operand(inner, node, "can be read from another symbol")
        if early is not None:
            return early
        nested = next((sub for sub in ir.walk(inner) if isinstance(sub, ir.OfSymbol)), None)
        if nested is not None:
            return self.error(f"`of {nested.symbol}` inside `of {node.symbol}`", nested.span,
                              "read each symbol on its own: `close of A` and `close of B`")
        if any(isinstance(sub, (ir.Member, ir.StateOf)) for sub in ir.walk(inner)):
            return self.error("a definition that reads its own past cannot be read from another "
                              "symbol", node.span, "define the series from `close of "
                              f"{node.symbol}` instead")
        return ir.OfSymbol(inner, node.symbol, inner.type.as_series(), span=node.span)

    # ------------------------------------------------------------ calls
    def _call(self, node: ast.Call, scope: Scope) -> ir.Node:
        if node.func in scope.functions and node.func not in scope.locals:
            return self._expand(scope.functions[node.func], node, scope)
        if node.func in scope.broken and node.func not in REGISTRY:
            return INVALID  # a `def` with a syntax error, already reported
        builtin = REGISTRY.get(node.func)
        if builtin is None or builtin.is_series:
            if builtin is not None or scope.lookup_definition(node.func, node.func_span) is not None:
                return self.error(f"`{node.func}` is a series, not a function", node.func_span,
                                  f"use it without parentheses, or `{node.func}[1]` for the previous bar")
            names = [n for n, b in REGISTRY.items() if not b.is_series] + list(scope.functions)
            pine = pine_hint(node.func, REGISTRY, [unparse_expr(a.value) for a in node.args])
            return self.error(f"unknown function `{node.func}`", node.func_span,
                              pine or did_you_mean(node.func, names))
        args = self._bind_builtin(builtin, node, scope)
        if args is None:
            return INVALID
        if builtin.elementwise and all(isinstance(a, ir.Const) for a in args):
            return self._fold_call(builtin, args, node.span)
        return ir.Call(builtin.name, tuple(args), builtin.returns, node.span)

    def _fold_call(self, builtin: Builtin, args: list[ir.Node], span: Span) -> ir.Node:
        value = float(np.asarray(builtin.reference(*[a.value for a in args])))  # type: ignore[union-attr]
        if not np.isfinite(value):
            return self.error(f"`{builtin.name}(...)` of these constants is not a real number", span)
        return const(value, NUMBER_CONST, span)

    def _bind_builtin(self, builtin: Builtin, node: ast.Call, scope: Scope) -> list[ir.Node] | None:
        bound = self._match_arguments(node, [p.name for p in builtin.params], builtin.signature())
        if bound is None:
            return None
        out: list[ir.Node] = []
        ok = True
        for spec in builtin.params:
            arg = bound.get(spec.name)
            if arg is None:
                if spec.required:
                    self.error(f"`{builtin.name}` needs its `{spec.name}` argument", node.span,
                               f"its signature is {builtin.signature()}")
                    ok = False
                    continue
                out.append(self._default(spec, node.span))
                continue
            value = self._check_argument(builtin, spec, self.resolve(arg.value, scope), arg.value.span)
            ok = ok and not is_invalid(value)
            out.append(value)
        return out if ok else None

    def _default(self, spec: ParamSpec, span: Span) -> ir.Node:
        if isinstance(spec.default, PriceDefault):
            return ir.Call(spec.default.series, (), NUMBER_SERIES, span)
        kind = STRING_CONST if isinstance(spec.default, str) else NUMBER_CONST
        return const(spec.default, kind, span)

    def _match_arguments(self, node: ast.Call, names: list[str], signature: str) -> dict[str, ast.Arg] | None:
        bound: dict[str, ast.Arg] = {}
        ok, seen_named = True, False
        for index, arg in enumerate(node.args):
            if arg.name is None:
                if seen_named:
                    self.error("a positional argument cannot follow a named one", arg.span,
                               "put positional arguments first")
                    ok = False
                elif index >= len(names):
                    self.error(f"`{node.func}` takes at most {len(names)} argument"
                               f"{'s' if len(names) != 1 else ''}, got {len(node.args)}", arg.span,
                               f"its signature is {signature}")
                    return None
                else:
                    bound[names[index]] = arg
                continue
            seen_named = True
            if arg.name not in names:
                self.error(f"`{node.func}` has no argument `{arg.name}`", arg.span,
                           did_you_mean(arg.name, names) or f"its signature is {signature}")
                ok = False
            elif arg.name in bound:
                self.error(f"argument `{arg.name}` is given twice", arg.span)
                ok = False
            else:
                bound[arg.name] = arg
        return bound if ok else None

    def _check_argument(self, builtin: Builtin, spec: ParamSpec, value: ir.Node, span: Span) -> ir.Node:
        if is_invalid(value):
            return INVALID
        what = f"argument `{spec.name}` of `{builtin.name}`"
        if value.type.kind is Kind.RECORD:
            return self._record_misuse(value, span)
        if spec.kind is ArgKind.SERIES or (spec.kind is ArgKind.WINDOW and not isinstance(value, ir.Const)):
            return value if self._expect(value, Kind.NUMBER, what, span) else INVALID
        if spec.kind is ArgKind.BOOL_SERIES:
            return value if self._expect(value, Kind.BOOL, what, span) else INVALID
        if spec.kind is ArgKind.STRING:
            if not isinstance(value, ir.Const) or value.type.kind is not Kind.STRING:
                example = f'"{spec.default}"' if not spec.required else f"`{builtin.example}`"
                hint = (f"`{builtin.name}` reads the bar's time itself: `{builtin.example}`"
                        if isinstance(value, ir.Call) and value.name == "time"  # Pine's `hour(time)`
                        else f"for example {example}")
                return self.error(f"{what} must be a string", span, hint)
            problem = spec.validate(str(value.value)) if spec.validate is not None else None
            return value if problem is None else self.error(f"{what}: {problem[0]}", span, problem[1])
        if spec.kind is ArgKind.NUMBER:
            number = self.constant_number(value, span, what)
            if number is not None and spec.minimum is not None and number < spec.minimum:
                return self.error(f"{what} must be at least {spec.minimum:g}, got {number:g}", span)
            return INVALID if number is None else value
        integer = self.constant_int(value, span, what, minimum=spec.minimum)
        return INVALID if integer is None else const(integer, NUMBER_CONST, span)

    def _expand(self, func: ast.FuncDef, node: ast.Call, scope: Scope) -> ir.Node:
        if func.name in scope.stack:
            chain = " → ".join([*scope.stack[scope.stack.index(func.name):], func.name])
            return self.error(f"`{func.name}` calls itself ({chain})", node.func_span,
                              "user functions are expanded where they are called, so they cannot recurse")
        self.expanded.add(func.name)
        names = [p.id for p in func.params]
        signature = f"{func.name}({', '.join(names)})"
        bound = self._match_arguments(node, names, signature)
        if bound is None:
            return INVALID
        missing = [n for n in names if n not in bound]
        if missing:
            return self.error(f"`{func.name}` needs {len(names)} argument{'s' if len(names) != 1 else ''}, "
                              f"missing {', '.join(f'`{m}`' for m in missing)}", node.span,
                              f"it is defined as {signature} on line {func.span.line}")
        values = {name: self.resolve(arg.value, scope) for name, arg in bound.items()}
        if any(is_invalid(v) for v in values.values()):
            return INVALID
        # A recursion being formed (lang/stateful/) changes what a name means: `epoch` moves on.
        key = (func.name, self.history_depth, self.epoch, *(values[name] for name in names))
        if key in self._expansions:
            return self._expansions[key]
        if len(self._expansions) >= MAX_EXPANSIONS:
            if any(d.message.startswith("user functions expand") for d in self.diagnostics):
                return INVALID  # said once: every call below the limit's would repeat it
            return self.error(f"user functions expand to too large an expression (limit {MAX_EXPANSIONS:,} "
                              "different calls)", node.span,
                              "each call is expanded where it is written; give a repeated part a name "
                              "(`x = ...`) so it is computed once")
        inner = Scope(scope.lookup_definition, scope.functions, scope.known_names, values,
                      (*scope.stack, func.name), scope.broken)
        self._expansions[key] = expansion = self.resolve(func.body, inner)
        return expansion

    # ------------------------------------------------------------ helpers
    def _expect(self, node: ir.Node, kind: Kind, what: str, span: Span) -> bool:
        if node.type.kind is Kind.RECORD:
            self._record_misuse(node, span)
            return False
        if node.type.kind is kind:
            return True
        wanted = {Kind.NUMBER: "a number", Kind.BOOL: "a condition (true/false)", Kind.STRING: "a string"}[kind]
        hint = ("compare it to get a condition, e.g. `close > open`" if kind is Kind.BOOL
                else "conditions and numbers do not mix; use `if c then 1 else 0` to turn one into a number"
                if node.type.kind is Kind.BOOL else None)
        self.error(f"{what} needs {wanted}, got a {node.type.describe()}", span, hint)
        return False

    def _record_misuse(self, node: ir.Node, span: Span) -> ir.Const:
        fields = node.type.fields
        name = node.name if isinstance(node, ir.Call) else "this indicator"
        return self.error(f"`{name}` gives several series ({', '.join(fields)}); pick one", span,
                          f"for example `.{fields[0]}`")

    def constant_number(self, node: ir.Node, span: Span, what: str) -> float | None:
        if not isinstance(node, ir.Const) or node.type.kind is not Kind.NUMBER:
            self.error(f"{what} must be a constant number, got a {node.type.describe()}", span,
                       "use a number or a param: it must be known before the run")
            return None
        return node.value  # type: ignore[return-value]

    def constant_int(self, node: ir.Node, span: Span, what: str, *, minimum: float | None) -> int | None:
        number = self.constant_number(node, span, what)
        if number is None:
            return None
        if not float(number).is_integer():
            self.error(f"{what} must be a whole number, got {number:g}", span)
            return None
        if minimum is not None and number < minimum:
            self.error(f"{what} must be at least {minimum:g}, got {int(number)}", span)
            return None
        if abs(number) > MAX_WHOLE:
            self.error(f"{what} must be at most {MAX_WHOLE:,}, got {number:g}", span,
                       "windows, bar counts and offsets are counted in bars; no data is this long")
            return None
        return int(number)


# Each expression kind's method, keyed by the class: a renamed or new node kind fails here at import
# (or with a KeyError naming the class), not by a method name built from a string.
_RESOLVE: dict[type, Callable[[Resolver, ast.Expr, Scope], ir.Node]] = {
    ast.Number: Resolver._number, ast.Percent: Resolver._percent, ast.String: Resolver._string,
    ast.Bool: Resolver._bool, ast.Name: Resolver._name, ast.Unary: Resolver._unary,
    ast.Binary: Resolver._binary, ast.Crosses: Resolver._crosses, ast.IfElse: Resolver._ifelse,
    ast.History: Resolver._history, ast.Streak: Resolver._streak, ast.Field: Resolver._field,
    ast.AtTimeframe: Resolver._attimeframe, ast.OfSymbol: Resolver._ofsymbol, ast.Call: Resolver._call,
}
