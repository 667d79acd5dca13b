"""Expression AST → canonical .tbs text: the formatter, the REPL's `:show`, messages that quote
an expression, and the identity round-trip tests (parse(unparse(tree)) == tree for every tree the
parser makes). Statements are written by their entries in `statements.py`.

Parentheses are written only where precedence needs them, so canonical text reads like hand-written.
"""
from __future__ import annotations

from typing import Callable

from . import ast
from .operators import OPERATORS, PRECEDENCE, OpSpec

# Each operator's AST node, as its registry name and its operands in the order its syntax writes them.
_OPERANDS: dict[type, Callable[..., tuple[str, tuple[ast.Expr, ...]]]] = {
    ast.Binary: lambda n: (n.op, (n.left, n.right)),
    ast.Unary: lambda n: (n.op, (n.operand,)),
    ast.Crosses: lambda n: (f"crosses_{n.direction}", (n.left, n.right)),
    ast.IfElse: lambda n: ("if", (n.cond, n.then, n.otherwise)),
    ast.Streak: lambda n: ("held_for" if n.kind == "for" else "held_within", (n.cond, n.bars)),
    ast.History: lambda n: ("history", (n.target, n.offset)),
}


def _operator(node: ast.Expr) -> tuple[OpSpec, tuple[ast.Expr, ...]] | None:
    operands = _OPERANDS.get(type(node))
    if operands is None:
        return None
    name, args = operands(node)
    return OPERATORS[name], args


def _level(node: ast.Expr) -> int:
    found = _operator(node)
    if found is not None:
        return PRECEDENCE[found[0].level]
    if isinstance(node, (ast.Call, ast.Field, ast.AtTimeframe, ast.OfSymbol)):
        return PRECEDENCE["postfix"]
    return PRECEDENCE["atom"]


def wrap(node: ast.Expr, minimum: int) -> str:
    text = expr(node)
    return f"({text})" if _level(node) < minimum else text


def _number(value: float, is_int: bool) -> str:
    return str(int(value)) if is_int else repr(float(value))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _call(node: ast.Call) -> str:
    args = ", ".join(expr(a.value) if a.name is None else f"{a.name}={expr(a.value)}" for a in node.args)
    return f"{node.func}({args})"


def _of_symbol(node: ast.OfSymbol) -> str:
    symbol = _quoted(node.symbol) if node.quoted else node.symbol
    return f"{wrap(node.expr, PRECEDENCE['postfix'])} of {symbol}"


# The writer of every expression kind that is not an operator (operators: _OPERANDS and the registry).
_WRITERS: dict[type, Callable[..., str]] = {
    ast.Number: lambda n: _number(n.value, n.is_int),
    ast.Percent: lambda n: n.text.replace("_", ""),
    ast.String: lambda n: _quoted(n.value),
    ast.Bool: lambda n: "true" if n.value else "false",
    ast.Name: lambda n: n.id,
    ast.Call: _call,
    ast.Field: lambda n: f"{wrap(n.target, PRECEDENCE['postfix'])}.{n.name}",
    ast.AtTimeframe: lambda n: f"{wrap(n.expr, PRECEDENCE['postfix'])} @ {n.timeframe}",
    ast.OfSymbol: _of_symbol,
}


def expr(node: ast.Expr) -> str:
    """Canonical text of an expression."""
    found = _operator(node)
    if found is not None:  # precedence and associativity: each operand at the level the grammar parses it
        spec, operands = found
        return spec.write(*(wrap(o, PRECEDENCE[level]) for o, level in zip(operands, spec.operand_levels)))
    write = _WRITERS.get(type(node))
    if write is None:
        raise TypeError(f"cannot unparse {type(node).__name__}")
    return write(node)
