"""Partial exits: the portion an exit rule closes, and the per-bar portion of a side's exits.

    exit long 50% when rsi(close, 14) crosses above 70     # half of every open lot
    exit long when close < sma(close, 200)                  # everything, as always
    take_profit long 2% exit 50%                            # a rung of a laddered target

A portion is a constant percentage in (0 %, 100 %]; a param works (so an optimizer may vary it).
The rules of one side compile to one series (`exit_portion`): on a bar where several exit rules
fire, the largest portion wins (a rule without a portion is 100 %). docs/execution.md, "Partial
exits", states what the engine does with it.
"""
from __future__ import annotations

from typing import Callable

from . import ast, ir
from .ast import Span
from .resolve import is_invalid
from .types import NUMBER_CONST, Kind, Type

ErrorSink = Callable[[str, Span, "str | None"], None]
NUMBER_SERIES = Type(Kind.NUMBER, True)
BOOL_SERIES = Type(Kind.BOOL, True)


def check_portion(node: ast.Expr, value: ir.Node, *, is_percent: bool, example: str,
                  error: ErrorSink) -> float | None:
    """The fraction a written portion stands for, or None after reporting why it is not one."""
    if is_invalid(value):
        return None
    if not (isinstance(value, ir.Const) and value.type.kind is Kind.NUMBER):
        error("the part of the position to close must be a constant percentage", node.span,
              f"for example `{example}` (a param works too)")
        return None
    number = float(value.value)  # type: ignore[arg-type]
    if not is_percent:
        error(f"the part of the position to close is a percentage, got {number:g}", node.span,
              f"write the % sign, for example `{example}`")
        return None
    if not number > 0.0:
        error(f"closing {number * 100:g}% of the position closes nothing", node.span,
              "give a portion above 0%, or drop the rule")
        return None
    if number > 1.0:
        error(f"cannot close {number * 100:g}% of the position: at most all of it (100%)", node.span,
              "is the % sign where you meant it? Without a portion an exit closes everything")
        return None
    return number


def exit_portion(parts: list[tuple[float, ir.Node]]) -> ir.Node | None:
    """The portion a side's exit closes on each bar, from its rules' (portion, condition); None
    when every rule closes everything. A constant when all the rules close the same part."""
    if all(portion == 1.0 for portion, _ in parts):
        return None
    if len({portion for portion, _ in parts}) == 1:
        return ir.Const(parts[0][0], NUMBER_CONST)
    # The largest portion first; a condition still warming up (missing) counts as not firing, so
    # that it does not hide a smaller portion that does fire.
    chain: ir.Node = ir.Const(float("nan"), NUMBER_CONST)
    for portion, cond in sorted(parts, key=lambda part: part[0]):
        chain = ir.Op("if", (_known(cond), ir.Const(portion, NUMBER_CONST), chain), NUMBER_SERIES)
    return chain


def _known(cond: ir.Node) -> ir.Node:
    """`cond and not na(cond)`: true where the condition is true, false where it is missing."""
    missing = ir.Call("na", (cond,), BOOL_SERIES)
    return ir.Op("and", (cond, ir.Op("not", (missing,), BOOL_SERIES)), BOOL_SERIES)

