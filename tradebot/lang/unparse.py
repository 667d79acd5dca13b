"""AST → canonical .tbs text: the formatter, the REPL's `:show`, and the identity round-trip tests
(parse(unparse(tree)) == tree for every tree the parser makes).

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


def _wrap(node: ast.Expr, minimum: int) -> str:
    text = expr(node)
    return f"({text})" if _level(node) < minimum else text


def _number(value: float, is_int: bool) -> str:
    return str(int(value)) if is_int else repr(float(value))


def expr(node: ast.Expr) -> str:
    """Canonical text of an expression."""
    if isinstance(node, ast.Number):
        return _number(node.value, node.is_int)
    if isinstance(node, ast.Percent):
        return node.text.replace("_", "")
    if isinstance(node, ast.String):
        return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
    if isinstance(node, ast.Bool):
        return "true" if node.value else "false"
    if isinstance(node, ast.Name):
        return node.id
    found = _operator(node)
    if found is not None:  # precedence and associativity: each operand at the level the grammar parses it
        spec, operands = found
        return spec.write(*(_wrap(o, PRECEDENCE[level]) for o, level in zip(operands, spec.operand_levels)))
    if isinstance(node, ast.Call):
        args = ", ".join(expr(a.value) if a.name is None else f"{a.name}={expr(a.value)}" for a in node.args)
        return f"{node.func}({args})"
    if isinstance(node, ast.Field):
        return f"{_wrap(node.target, PRECEDENCE['postfix'])}.{node.name}"
    if isinstance(node, ast.AtTimeframe):
        return f"{_wrap(node.expr, PRECEDENCE['postfix'])} @ {node.timeframe}"
    if isinstance(node, ast.OfSymbol):
        symbol = expr(ast.String(node.symbol)) if node.quoted else node.symbol
        return f"{_wrap(node.expr, PRECEDENCE['postfix'])} of {symbol}"
    raise TypeError(f"cannot unparse {type(node).__name__}")


def statement(node: ast.Statement) -> str:
    """Canonical text of one statement (one line)."""
    write = _STATEMENTS.get(type(node))
    if write is None:
        raise TypeError(f"cannot unparse {type(node).__name__}")
    return write(node)


def _portion(node: ast.Expr | None) -> str:
    """` 50%` in `exit long 50% when ...`; nothing for an exit of everything."""
    return f" {expr(node)}" if node is not None else ""


def _setting(node: ast.Setting) -> str:
    value = ", ".join(expr(v) for v in (node.value, *node.more))  # `universe BTCUSDT, ETHUSDT`
    portion = ["exit", expr(node.portion)] if node.portion is not None else []  # a ladder's rung
    return " ".join(w for w in [node.name, node.side, node.mark, value, *node.units, *portion] if w)


def _time_exit(node: ast.TimeExit) -> str:
    side = f" {node.side}" if node.side else ""
    return f"{node.action}{side} after {_wrap(node.bars, PRECEDENCE['sum'])} bars"


def _entry_order(node: ast.EntryOrder) -> str:
    expire = f" expire {_wrap(node.expire, PRECEDENCE['sum'])} bars" if node.expire is not None else ""
    return f"{node.action} {node.side} at {node.kind} {expr(node.price)}{expire}"


def _assign(node: ast.Assign) -> str:
    start = f" starting {expr(node.start)}" if node.start is not None else ""
    return f"{node.name} = {expr(node.value)}{start}"


def _optimize_clause(clause: ast.OptimizeClause) -> str:
    if clause.keyword == "by":
        return f"by {clause.word}"
    if clause.keyword != "validate":
        return f"{clause.keyword} {expr(clause.amount)}"  # type: ignore[arg-type]
    folds = " folds" if isinstance(clause.amount, ast.Number) else ""
    mode = f" {clause.mode}" if clause.mode else ""
    return f"validate {clause.word} {expr(clause.amount)}{folds}{mode}"  # type: ignore[arg-type]


def _domain(domain: ast.ParamRange | ast.ParamChoices | None) -> str:
    if domain is None:
        return ""
    if isinstance(domain, ast.ParamChoices):
        return " in [" + ", ".join(expr(v) for v in domain.values) + "]"
    step = f" step {expr(domain.step)}" if domain.step is not None else ""
    return f" in {expr(domain.low)}..{expr(domain.high)}{step}"


# One writer per statement kind (a kind missing here is a TypeError, not silently dropped text).
_STATEMENTS: dict[type, Callable[..., str]] = {
    ast.StrategyDecl: lambda n: f"strategy {expr(ast.String(n.name))}",
    ast.Setting: _setting,
    ast.TimeExit: _time_exit,
    ast.EntryOrder: _entry_order,
    ast.ParamDecl: lambda n: f"param {n.name} = {expr(n.default)}{_domain(n.domain)}",
    ast.Assign: _assign,
    ast.FuncDef: lambda n: f"def {n.name}({', '.join(p.id for p in n.params)}) = {expr(n.body)}",
    ast.Rule: lambda n: f"{n.action} {n.side}{_portion(n.portion)} when {expr(n.cond)}",
    ast.Optimize: lambda n: " ".join([f"optimize {n.goal} {n.objective}", *map(_optimize_clause, n.clauses)]),
}


def program(node: ast.Program) -> str:
    """Canonical text of a whole script (comments are not part of the AST)."""
    return "".join(statement(s) + "\n" for s in node.statements)
