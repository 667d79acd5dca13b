"""The .tbs abstract syntax tree: frozen dataclasses, each carrying the source span it came from.

Children are plain fields; positions live only in `span` (and compare as equal-to-anything so two
trees with the same structure are equal whatever their layout — the identity round-trip tests rely
on that). Nodes never point back to their parents.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Span:
    """A region of the source: 1-based line/column of the first and one-past-last character."""

    line: int
    column: int
    end_line: int
    end_column: int
    start: int  # 0-based character offsets into the source
    end: int

    def __eq__(self, other: object) -> bool:  # spans never make two trees differ
        return isinstance(other, Span)

    def __hash__(self) -> int:
        return 0

    def merge(self, other: Span) -> Span:
        first, last = (self, other) if self.start <= other.start else (other, self)
        return Span(first.line, first.column, last.end_line, last.end_column, first.start, last.end)


NOWHERE = Span(0, 0, 0, 0, 0, 0)


def _span() -> Span:
    return field(default=NOWHERE, compare=True, repr=False)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Number:
    """A numeric literal; `is_int` records whether it was written without a fraction."""

    value: float
    is_int: bool
    span: Span = _span()


@dataclass(frozen=True)
class Percent:
    """A percentage literal such as `0.5%`; `value` is the fraction (0.005)."""

    value: float
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class String:
    """A string literal."""

    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Bool:
    """`true` or `false`."""

    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    """A reference to a series, param, variable or function by name."""

    id: str
    span: Span = _span()


@dataclass(frozen=True)
class Unary:
    """`-x` (op "neg") or `not x` (op "not")."""

    op: str
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Binary:
    """Arithmetic (+ - * / ^), comparison (< <= > >= == !=) or logic (and, or)."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Crosses:
    """`a crosses above b` / `a crosses below b`."""

    direction: str  # "above" | "below"
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class IfElse:
    """`if cond then a else b`."""

    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Arg:
    """One call argument, positional (`name` None) or named."""

    name: str | None
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """`f(a, b, n=3)`: a builtin or a user function."""

    func: str
    args: tuple[Arg, ...]
    span: Span = _span()
    func_span: Span = _span()


@dataclass(frozen=True)
class History:
    """`x[n]`: the value n bars ago (n a non-negative constant)."""

    target: Expr
    offset: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Field:
    """`x.name`: one output of a multi-output indicator."""

    target: Expr
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Streak:
    """`cond for n bars` (held every one of the last n bars) or `cond within n bars` (at least once)."""

    kind: str  # "for" | "within"
    cond: Expr
    bars: Expr
    span: Span = _span()


@dataclass(frozen=True)
class AtTimeframe:
    """`expr @ 4h`: evaluate on a higher timeframe, visible only once that bar has closed."""

    expr: Expr
    timeframe: str
    span: Span = _span()


@dataclass(frozen=True)
class OfSymbol:
    """`close of BTCUSDT`: `expr` computed on another symbol's bars, read on the script's bar with
    the same open time (docs/language.md, "Other symbols")."""

    expr: Expr
    symbol: str
    span: Span = _span()
    symbol_span: Span = _span()
    quoted: bool = False  # `of "1000PEPEUSDT"` rather than `of BTCUSDT`
    word_span: Span = _span()  # the word `of`


Expr = Union[Number, Percent, String, Bool, Name, Unary, Binary, Crosses, IfElse, Call, History,
             Field, Streak, AtTimeframe, OfSymbol]

# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class StrategyDecl:
    """`strategy "name"`."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Setting:
    """`fee 0.05%`, `capital 10_000`, `data "file.csv"`: a run setting; risk settings may name a
    side and a form: `stop_loss long at lowest(low, 10)`, `size risk 1% to stop`, `fee 1 per order`.

    `side` is "long" | "short" | None (both); `mark` the word before the value ("at" | "risk");
    `units` the words after it.
    """

    name: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()
    side: str | None = None
    mark: str | None = None
    units: tuple[str, ...] = ()
    units_span: Span = _span()
    more: tuple[Expr, ...] = ()  # the values after the first in a list: `universe BTCUSDT, ETHUSDT`
    portion: Expr | None = None  # `take_profit long 2% exit 50%`: one rung of a ladder


@dataclass(frozen=True)
class ParamRange:
    """`lo..hi [step s]` (inclusive bounds)."""

    low: Expr
    high: Expr
    step: Expr | None
    span: Span = _span()


@dataclass(frozen=True)
class ParamChoices:
    """`[a, b, c]`: the values a param may take."""

    values: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ParamDecl:
    """`param name = default [in range | in [choices]]`."""

    name: str
    default: Expr
    domain: ParamRange | ParamChoices | None
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Assign:
    """`name = expr [starting expr]`: a named series or value; `start` is the value of a series
    that reads its own past until its formula first gives one (lang/stateful/)."""

    name: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()
    start: Expr | None = None


@dataclass(frozen=True)
class FuncDef:
    """`def name(a, b) = expr`: a user function, expanded at each call."""

    name: str
    params: tuple[Name, ...]
    body: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Rule:
    """`enter long when cond` / `exit short when cond` / `exit long 50% when cond`."""

    action: str  # "enter" | "exit"
    side: str  # "long" | "short"
    cond: Expr
    span: Span = _span()
    portion: Expr | None = None  # the part of the position an exit closes (None: all of it)


@dataclass(frozen=True)
class TimeExit:
    """`exit [long|short] after N bars`: a trade held N bars closes at the next open."""

    action: str  # "exit" (the checker reports `enter ... after`)
    side: str | None  # None: both sides
    bars: Expr
    span: Span = _span()


@dataclass(frozen=True)
class EntryOrder:
    """`enter long at limit PRICE [expire N bars]`: a side's entries as limit or stop orders."""

    action: str  # "enter" (the checker reports `exit ... at`)
    side: str
    kind: str  # "limit" | "stop"
    price: Expr
    expire: Expr | None
    span: Span = _span()


@dataclass(frozen=True)
class OptimizeClause:
    """One clause of `optimize`: `by grid`, `trials 200`, `seed 7`, `min_trades 20`, `where cond`,
    `validate split 70%` or `validate walk_forward 5 folds rolling`.

    `word` is the name after `by` (the method) or `validate` (the validation kind); `amount` the
    number, percentage or condition; `mode` the fold mode (`rolling` / `anchored`) if written.
    """

    keyword: str  # "by" | "trials" | "seed" | "min_trades" | "where" | "validate"
    word: str | None
    amount: Expr | None
    mode: str | None = None
    span: Span = _span()
    word_span: Span = _span()
    mode_span: Span = _span()


@dataclass(frozen=True)
class Optimize:
    """`optimize maximize|minimize METRIC clause...`: what `tradebot run --optimize` searches for."""

    goal: str  # "maximize" | "minimize"
    objective: str
    clauses: tuple[OptimizeClause, ...]
    span: Span = _span()
    objective_span: Span = _span()


Statement = Union[StrategyDecl, Setting, ParamDecl, Assign, FuncDef, Rule, TimeExit, EntryOrder,
                  Optimize]


@dataclass(frozen=True)
class Program:
    """A whole script."""

    statements: tuple[Statement, ...]
    span: Span = _span()


def children(node: object) -> tuple[object, ...]:
    """The direct child nodes of an AST node (for generic walks)."""
    out: list[object] = []
    for name in getattr(node, "__dataclass_fields__", {}):
        if name.endswith("span"):
            continue
        value = getattr(node, name)
        if isinstance(value, tuple):
            out.extend(v for v in value if hasattr(v, "__dataclass_fields__"))
        elif hasattr(value, "__dataclass_fields__"):
            out.append(value)
    return tuple(out)


def walk(node: object):
    """Yield `node` and every node below it, depth first."""
    yield node
    for child in children(node):
        yield from walk(child)
