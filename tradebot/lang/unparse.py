"""AST → canonical .tbs text: the formatter, the REPL's `:show`, and the identity round-trip tests
(parse(unparse(tree)) == tree for every tree the parser makes).

Parentheses are written only where precedence needs them, so canonical text reads like hand-written.
"""
from __future__ import annotations

from . import ast

# Binding strength, loosest first; matches grammar/tbs.lark.
PRECEDENCE = {
    "if": 1, "or": 2, "and": 3, "not": 4, "streak": 5, "compare": 6, "sum": 7, "product": 8,
    "neg": 9, "^": 10, "postfix": 11, "atom": 12,
}
_LEVEL_OF_OP = {"or": "or", "and": "and", "+": "sum", "-": "sum", "*": "product", "/": "product", "%": "product",
                 "^": "^"}


def _level(node: ast.Expr) -> int:
    if isinstance(node, ast.IfElse):
        return PRECEDENCE["if"]
    if isinstance(node, ast.Binary):
        return PRECEDENCE[_LEVEL_OF_OP.get(node.op, "compare")]
    if isinstance(node, ast.Crosses):
        return PRECEDENCE["compare"]
    if isinstance(node, ast.Unary):
        return PRECEDENCE["not" if node.op == "not" else "neg"]
    if isinstance(node, ast.Streak):
        return PRECEDENCE["streak"]
    if isinstance(node, (ast.Call, ast.History, ast.Field, ast.AtTimeframe, ast.OfSymbol)):
        return PRECEDENCE["postfix"]
    return PRECEDENCE["atom"]


def _wrap(node: ast.Expr, minimum: int) -> str:
    text = expr(node)
    return f"({text})" if _level(node) < minimum else text


def _number(value: float, is_int: bool) -> str:
    return str(int(value)) if is_int else repr(float(value))


def _binary(node: ast.Binary) -> str:
    level = _level(node)
    if node.op == "^":  # right-associative; its right side is a unary
        return f"{_wrap(node.left, PRECEDENCE['postfix'])} ^ {_wrap(node.right, PRECEDENCE['neg'])}"
    if level == PRECEDENCE["compare"]:  # non-associative: both sides are sums
        return f"{_wrap(node.left, PRECEDENCE['sum'])} {node.op} {_wrap(node.right, PRECEDENCE['sum'])}"
    return f"{_wrap(node.left, level)} {node.op} {_wrap(node.right, level + 1)}"


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
    if isinstance(node, ast.Unary):
        if node.op == "not":
            return f"not {_wrap(node.operand, PRECEDENCE['not'])}"
        return f"-{_wrap(node.operand, PRECEDENCE['neg'])}"
    if isinstance(node, ast.Binary):
        return _binary(node)
    if isinstance(node, ast.Crosses):
        return (f"{_wrap(node.left, PRECEDENCE['sum'])} crosses {node.direction} "
                f"{_wrap(node.right, PRECEDENCE['sum'])}")
    if isinstance(node, ast.IfElse):
        return f"if {expr(node.cond)} then {expr(node.then)} else {expr(node.otherwise)}"
    if isinstance(node, ast.Streak):
        return f"{_wrap(node.cond, PRECEDENCE['compare'])} {node.kind} {_wrap(node.bars, PRECEDENCE['sum'])} bars"
    if isinstance(node, ast.Call):
        args = ", ".join(expr(a.value) if a.name is None else f"{a.name}={expr(a.value)}" for a in node.args)
        return f"{node.func}({args})"
    if isinstance(node, ast.History):
        return f"{_wrap(node.target, PRECEDENCE['postfix'])}[{expr(node.offset)}]"
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
    if isinstance(node, ast.StrategyDecl):
        return f"strategy {expr(ast.String(node.name))}"
    if isinstance(node, ast.Setting):
        value = ", ".join(expr(v) for v in (node.value, *node.more))
        words = [node.name, node.side, node.mark, value, *node.units]
        return " ".join(w for w in words if w)
    if isinstance(node, ast.TimeExit):
        side = f" {node.side}" if node.side else ""
        return f"{node.action}{side} after {_wrap(node.bars, PRECEDENCE['sum'])} bars"
    if isinstance(node, ast.EntryOrder):
        expire = f" expire {_wrap(node.expire, PRECEDENCE['sum'])} bars" if node.expire is not None else ""
        return f"{node.action} {node.side} at {node.kind} {expr(node.price)}{expire}"
    if isinstance(node, ast.ParamDecl):
        return f"param {node.name} = {expr(node.default)}{_domain(node.domain)}"
    if isinstance(node, ast.Assign):
        start = f" starting {expr(node.start)}" if node.start is not None else ""
        return f"{node.name} = {expr(node.value)}{start}"
    if isinstance(node, ast.FuncDef):
        return f"def {node.name}({', '.join(p.id for p in node.params)}) = {expr(node.body)}"
    if isinstance(node, ast.Rule):
        return f"{node.action} {node.side} when {expr(node.cond)}"
    if isinstance(node, ast.Optimize):
        return " ".join([f"optimize {node.goal} {node.objective}", *map(_optimize_clause, node.clauses)])
    raise TypeError(f"cannot unparse {type(node).__name__}")


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


def program(node: ast.Program) -> str:
    """Canonical text of a whole script (comments are not part of the AST)."""
    return "".join(statement(s) + "\n" for s in node.statements)
