"""The operator registry: one frozen spec per operator of the language, as builtins.REGISTRY is
for functions.

Each spec holds every fact about its operator: how it is written (`syntax`, whose words and
operand positions tests/lang/test_operators.py checks against grammar/tbs.lark), the grammar level
it sits at and the levels of its operands (precedence and associativity for the formatter), the
types it takes and gives (the resolver), how it folds on constants (the resolver), how it lowers
to Polars (the compiler), how the naive reference evaluator computes it bar by bar, how many past
bars it reads (the lookback pass) and its stateful-VM instruction. Adding an operator is one entry
here plus its grammar rule.

Missing values follow docs/language.md, "Missing values": arithmetic and comparisons propagate
missing; `and`/`or` are three-valued; division by zero and non-real powers are missing.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import polars as pl

from ..vm import opcodes as oc
from .types import Kind

NAN = float("nan")

# The grammar's expression levels, loosest first (grammar/tbs.lark: `?expr: conditional`,
# `?conditional: disjunction | ...`, ...); the test reads the chain from the grammar itself.
LEVELS = ("conditional", "disjunction", "conjunction", "negation", "streak", "comparison", "sum",
          "product", "unary", "power", "postfix", "atom")
PRECEDENCE: Mapping[str, int] = {level: rank for rank, level in enumerate(LEVELS, start=1)}

# Operand i of an operator on bar s (missing before the first bar): how a windowed operator's
# reference reads the past, the same whether the evaluator holds whole columns or a recursion
# computed bar by bar.
Reader = Callable[[int, int], float]


@dataclass(frozen=True)
class OpSpec:
    """One operator. `name` is its IR name (ir.Op.op)."""

    name: str
    syntax: str  # how it is written, operands as {0}, {1}, ...: "{0} crosses above {1}"
    rule: str  # the grammar rule's alias that builds it ("binary", "compare", "held_for", ...)
    level: str  # the grammar level it sits at (one of LEVELS)
    operand_levels: tuple[str, ...]  # the level each operand is parsed at: precedence, associativity
    # What its operands must be; None: a number or a condition, and the result is of the same kind.
    operand: Kind | None
    result: Kind | None
    lower: Callable[[list[pl.Expr], int | None], pl.Expr]  # Polars, given the operands and `param`
    # The reference: pointwise operators take the operands' values on one bar; windowed ones
    # take (read, t, param) and read past bars through `read`.
    reference: Callable[..., float]
    # The value on constants, at check time; numpy-friendly, so it also computes whole arrays of
    # constants (the optimizer's `where` over every candidate point, optimize/space.py).
    fold: Callable[..., object] | None = None
    windowed: bool = False  # reads past bars (the compiler broadcasts literal operands first)
    lookback: Callable[[int], int] = lambda param: 0  # past bars it reads beyond its operands'
    equality: bool = False  # also compares conditions and strings, not only numbers
    mirror: str | None = None  # the same test with its operands swapped (`1 < x` is `x > 1`)
    opcode: int | None = None  # the stateful VM's instruction (tradebot/vm/opcodes.py)
    # The last operand of its syntax is a constant bar count, carried as ir.Op.param (`x[3]`).
    counts_bars: bool = False
    # A crossing: the comparison that holds on this bar and the one that held on the bar before.
    crossing: tuple[str, str] | None = None
    # The operands the compiler makes columns of their own when they are operations: those the
    # lowering reads more than once (Polars expands a repeated expression into a tree, so a
    # nesting of them grows exponentially: 14 nested `if` conditions took 2 s, 16 exhausted the
    # memory) and those a NaN would fool (a comparison: Polars orders NaN above every number).
    # A number's column has NaN made missing (compiler.py, `_Lowering.expr`).
    columns: tuple[int, ...] = ()
    # For docs/builtins.md's operator table (the forms arithmetic does not explain): the operands'
    # names in `syntax`, what it means and an example.
    shown: tuple[str, ...] = ()
    meaning: str = ""
    example: str = ""

    @property
    def arity(self) -> int:
        """How many operands its IR node has (a bar count is its `param`, not an operand)."""
        return len(self.operand_levels) - self.counts_bars

    @property
    def words(self) -> tuple[str, ...]:
        """The literal tokens of its syntax, in order: ("crosses", "above"), ("[", "]")."""
        return tuple(word for part in re.split(r"\{\d\}", self.syntax) for word in part.split())

    def write(self, *operands: str) -> str:
        """The operator's text around its operands' (already parenthesised) text."""
        return self.syntax.format(*operands)


# ---------------------------------------------------------------- reference: one bar's values
def missing(*values: float) -> bool:
    return any(math.isnan(v) for v in values)


def _arith(fn: Callable[[float, float], float]) -> Callable[[float, float], float]:
    return lambda a, b: NAN if missing(a, b) else fn(a, b)


def _compare(fn: Callable[[float, float], bool]) -> Callable[[float, float], float]:
    return lambda a, b: NAN if missing(a, b) else float(fn(a, b))


def modulo(a, b):
    """a - b * floor(a / b): the remainder with the sign of b (what Polars' `%` computes, so the
    folded constant equals the compiled series)."""
    return a - b * np.floor(a / b)


def _div(a: float, b: float) -> float:
    return NAN if missing(a, b) or b == 0 else a / b


def _mod(a: float, b: float) -> float:
    # The published definition, a - b * floor(a / b) (the sign of b), one rounding at a time; an
    # infinite quotient stays infinite (floor of inf is inf, not an integer), so inf % 7 is
    # inf - inf: missing.
    if missing(a, b) or b == 0:
        return NAN
    quotient = float(a) / float(b)
    return float(a) - float(b) * (math.floor(quotient) if math.isfinite(quotient) else quotient)


def _pow(a: float, b: float) -> float:
    """a ^ b by IEEE's pow (as Polars and the VM compute it: an overflow is an infinity of the
    right sign), missing where it is not a real number: 0 to a negative power, a negative base
    to a power that is not whole (an infinite power counts as whole, as in the VM)."""
    if missing(a, b) or _undefined_power(a, b):
        return NAN
    with np.errstate(all="ignore"):
        return float(np.power(float(a), float(b)))


def _undefined_power(a, b):
    return (a == 0 and b < 0) or (a < 0 and b != np.floor(b))


def and3(a: float, b: float) -> float:  # three-valued: false wins over missing
    if a == 0.0 or b == 0.0:
        return 0.0
    return NAN if missing(a, b) else 1.0


def _or3(a: float, b: float) -> float:  # three-valued: true wins over missing
    if a == 1.0 or b == 1.0:
        return 1.0
    return NAN if missing(a, b) else 0.0


def _if(c: float, a: float, b: float) -> float:
    return NAN if math.isnan(c) else (a if c == 1.0 else b)


# ---------------------------------------------------------------- reference: reading the past
def _crosses(now: str, before: str):
    def crosses(read: Reader, t: int, param: int | None) -> float:
        return and3(OPERATORS[now].reference(read(0, t), read(1, t)),
                    OPERATORS[before].reference(read(0, t - 1), read(1, t - 1)))
    return crosses


def _history(read: Reader, t: int, param: int | None) -> float:
    return read(0, t - int(param or 0))


def _held(every: bool):
    def held(read: Reader, t: int, param: int | None) -> float:
        window = [read(0, s) for s in range(t - int(param or 1) + 1, t + 1)]
        if missing(*window):
            return NAN
        return float(all(v == 1.0 for v in window) if every else any(v == 1.0 for v in window))
    return held


# ---------------------------------------------------------------- Polars lowerings
def _real(result: pl.Expr) -> pl.Expr:
    """`result` with NaN made missing (Polars expands it as a when/then reading `result` twice:
    apply it to columns, not to a nesting of expressions)."""
    return result.fill_nan(None)


def _binary(fn: Callable[[pl.Expr, pl.Expr], pl.Expr]) -> Callable[[list[pl.Expr], int | None], pl.Expr]:
    return lambda args, param: fn(*args)


def _lower_pow(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """a ^ b, missing where `_pow` says it is not a real number (Polars' pow gives inf for 0 to a
    negative power and for -inf to a fractional one, NaN for other negative bases)."""
    undefined = ((a == 0) & (b < 0)) | ((a < 0) & (b != b.floor()))
    return pl.when(undefined).then(None).otherwise(_real(a.pow(b)))


def _lower_crosses(now: str, before: str) -> Callable[[list[pl.Expr], int | None], pl.Expr]:
    def lower(args: list[pl.Expr], param: int | None) -> pl.Expr:
        a, b = args
        # The comparison's bar before is the comparison shifted, not the comparison of the shifted
        # operands: the same values (missing on the first bar either way), one boolean shift instead
        # of two float ones (35 % less time for a sweep's crossings).
        return OPERATORS[now].lower([a, b], None) & OPERATORS[before].lower([a, b], None).shift(1)
    return lower


def _crossing(name: str, now: str, before: str, example: str) -> OpSpec:
    return OpSpec(name, "{0} crosses " + name.split("_")[1] + " {1}", "crosses", "comparison", ("sum", "sum"),
                  Kind.NUMBER, Kind.BOOL, _lower_crosses(now, before), _crosses(now, before), windowed=True,
                  lookback=lambda param: 1, crossing=(now, before), shown=("a", "b"),
                  meaning=f"a {now} b on this bar and a {before} b on the previous one", example=example)


def _lower_held(every: bool) -> Callable[[list[pl.Expr], int | None], pl.Expr]:
    def lower(args: list[pl.Expr], param: int | None) -> pl.Expr:
        # Missing if any bar in the window is missing; else all (for) / any (within) are true.
        as_number = args[0].cast(pl.Float64)
        window = as_number.rolling_min(param) if every else as_number.rolling_max(param)
        return window == 1.0
    return lower


def _lower_if(args: list[pl.Expr], param: int | None) -> pl.Expr:
    cond, then, other = args
    return pl.when(cond.is_null()).then(None).when(cond).then(then).otherwise(other)


# ---------------------------------------------------------------- the operators
def _arithmetic(name: str, level: str, operands: tuple[str, str], lower, reference, fold,
                opcode: int | None) -> OpSpec:
    # `^` reads its operands several times (`_lower_pow`), and pow(NaN, 0) is 1.
    return OpSpec(name, "{0} " + name + " {1}", "pow" if name == "^" else "binary", level, operands,
                  Kind.NUMBER, Kind.NUMBER, _binary(lower), reference, fold, opcode=opcode,
                  columns=(0, 1) if name == "^" else ())


def _comparison(name: str, mirror: str, test: Callable[[object, object], bool], opcode: int) -> OpSpec:
    return OpSpec(name, "{0} " + name + " {1}", "compare", "comparison", ("sum", "sum"), Kind.NUMBER,
                  Kind.BOOL, _binary(test), _compare(test), test,  # type: ignore[arg-type]
                  equality=name in ("==", "!="), mirror=mirror, opcode=opcode, columns=(0, 1))


def _window_extra(bars: int) -> int:
    return max(bars - 1, 0)  # a window of n bars reads the n - 1 before the current one


_SUM, _PRODUCT = ("sum", "product"), ("product", "unary")

_SPECS = (
    # Infinities are numbers (an overflow gives one), but what they make that is not a number
    # (inf - inf, 0 * inf, inf / inf) is missing, as in the reference and the VM. Inside a chain
    # of arithmetic a NaN propagates as a missing value would; it becomes missing where the
    # chain meets anything else (`columns` above), never reaching a comparison as a value.
    _arithmetic("+", "sum", _SUM, lambda a, b: a + b, _arith(lambda a, b: a + b), lambda a, b: a + b, oc.ADD),
    _arithmetic("-", "sum", _SUM, lambda a, b: a - b, _arith(lambda a, b: a - b), lambda a, b: a - b, oc.SUB),
    _arithmetic("*", "product", _PRODUCT, lambda a, b: a * b, _arith(lambda a, b: a * b), lambda a, b: a * b,
                oc.MUL),
    _arithmetic("/", "product", _PRODUCT, lambda a, b: pl.when(b != 0).then(a / b), _div, lambda a, b: a / b,
                oc.DIV),
    # a - b * floor(a / b), as `modulo`; the VM has no instruction for it (a recursion reports it).
    _arithmetic("%", "product", _PRODUCT, lambda a, b: pl.when(b != 0).then(a % b), _mod, modulo, None),
    # Right-associative: its left side is a postfix, its right side a unary (`-2 ^ 2` is -(2 ^ 2)).
    _arithmetic("^", "power", ("postfix", "unary"), _lower_pow, _pow,
                lambda a, b: a ** b, oc.POW),
    _comparison("<", ">", lambda a, b: a < b, oc.LT),  # type: ignore[operator]
    _comparison("<=", ">=", lambda a, b: a <= b, oc.LE),  # type: ignore[operator]
    _comparison(">", "<", lambda a, b: a > b, oc.GT),  # type: ignore[operator]
    _comparison(">=", "<=", lambda a, b: a >= b, oc.GE),  # type: ignore[operator]
    _comparison("==", "==", lambda a, b: a == b, oc.EQ),
    _comparison("!=", "!=", lambda a, b: a != b, oc.NE),
    OpSpec("neg", "-{0}", "neg", "unary", ("unary",), Kind.NUMBER, Kind.NUMBER,
           lambda args, param: -args[0], lambda a: -a, lambda a: -a, opcode=oc.NEG),
    OpSpec("not", "not {0}", "not_", "negation", ("negation",), Kind.BOOL, Kind.BOOL,
           lambda args, param: ~args[0], lambda a: NAN if math.isnan(a) else 1.0 - a, np.logical_not,
           opcode=oc.NOT),
    OpSpec("and", "{0} and {1}", "and_", "conjunction", ("conjunction", "negation"), Kind.BOOL, Kind.BOOL,
           _binary(lambda a, b: a & b), and3, np.logical_and, opcode=oc.AND),
    OpSpec("or", "{0} or {1}", "or_", "disjunction", ("disjunction", "conjunction"), Kind.BOOL, Kind.BOOL,
           _binary(lambda a, b: a | b), _or3, np.logical_or, opcode=oc.OR),
    # Its branches are both numbers or both conditions (the resolver); `operand` is the condition.
    OpSpec("if", "if {0} then {1} else {2}", "if_else", "conditional", ("conditional",) * 3, Kind.BOOL,
           None, _lower_if, _if, opcode=oc.IF, shown=("c", "a", "b"), columns=(0,),
           meaning="a where c is true, b where false, missing where c is missing",
           example="if close > open then 1 else -1"),
    _crossing("crosses_above", ">", "<=", "ema(close, 12) crosses above ema(close, 26)"),
    _crossing("crosses_below", "<", ">=", "close crosses below sar()"),
    # `x[n]`: the bar count is the constant `param`, not an operand of the IR node.
    OpSpec("history", "{0}[{1}]", "history", "postfix", ("postfix", "conditional"), None, None,
           lambda args, param: args[0].shift(param), _history, windowed=True, lookback=lambda param: param,
           counts_bars=True, shown=("x", "n"), meaning="x n bars ago (missing on the first n bars)",
           example="close > high[1]"),
    OpSpec("held_for", "{0} for {1} bars", "held_for", "streak", ("comparison", "sum"), Kind.BOOL, Kind.BOOL,
           _lower_held(True), _held(True), windowed=True, lookback=_window_extra, counts_bars=True,
           shown=("cond", "n"), meaning="cond true on each of the last n bars (missing if any is missing)",
           example="close > sma(close, 50) for 3 bars"),
    OpSpec("held_within", "{0} within {1} bars", "held_within", "streak", ("comparison", "sum"), Kind.BOOL,
           Kind.BOOL, _lower_held(False), _held(False), windowed=True, lookback=_window_extra,
           counts_bars=True, shown=("cond", "n"), meaning="cond true at least once in the last n bars",
           example="rsi(close, 14) < 30 within 5 bars"),
)

OPERATORS: Mapping[str, OpSpec] = {spec.name: spec for spec in _SPECS}
assert len(OPERATORS) == len(_SPECS), "two operators share an IR name"
COMPARISONS = tuple(spec.name for spec in _SPECS if spec.rule == "compare")
