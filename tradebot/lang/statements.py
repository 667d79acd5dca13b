"""One entry per kind of statement: how it is written back as canonical text, what it defines (a
later statement with the same key replaces it), and how a reply names what an input did.

Every place that handles statements by kind reads this table, keyed by the AST class: the
formatter and the round-trip tests (`program`), the REPL's session (which statement replaces
which) and its replies ("defined x", "set fee 0.1%"). A new statement kind is one entry here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import ast
from .operators import PRECEDENCE
from .unparse import expr, wrap

Key = tuple[str, ...]


@dataclass(frozen=True)
class StatementKind:
    """What the tools need to know about one kind of statement."""

    write: Callable[[Any], str]  # canonical one-line text
    # What the statement defines: a later one with the same key replaces it; None adds up (rules).
    key: Callable[[Any], Key | None] = lambda node: None
    verbs: tuple[str, str] = ("added:", "replaced:")  # what an input did: new, then replacing
    subject: Callable[[Any], str] | None = None  # how a reply names it (None: its canonical text)


def _portion(node: ast.Expr | None) -> str:
    """` 50%` in `exit long 50% when ...`; nothing for an exit of everything."""
    return f" {expr(node)}" if node is not None else ""


def _setting(node: ast.Setting) -> str:
    value = ", ".join(expr(v) for v in (node.value, *node.more))  # `universe BTCUSDT, ETHUSDT`
    portion = ["exit", expr(node.portion)] if node.portion is not None else []  # a ladder's rung
    return " ".join(w for w in [node.name, node.side, node.mark, value, *node.units, *portion] if w)


def _time_exit(node: ast.TimeExit) -> str:
    side = f" {node.side}" if node.side else ""
    return f"{node.action}{side} after {wrap(node.bars, PRECEDENCE['sum'])} bars"


def _entry_order(node: ast.EntryOrder) -> str:
    expire = f" expire {wrap(node.expire, PRECEDENCE['sum'])} bars" if node.expire is not None else ""
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


def _named(node: ast.Assign | ast.ParamDecl | ast.FuncDef) -> Key:
    return ("name", node.name)  # series, params and functions share one namespace


def _one_per_script(what: str) -> Callable[[Any], Key]:
    return lambda node: ("one per script", what)  # writing another replaces it


_DEFINED = ("defined", "redefined")

STATEMENTS: Mapping[type, StatementKind] = {
    ast.StrategyDecl: StatementKind(lambda n: f"strategy {expr(ast.String(n.name))}",
                                    key=_one_per_script("strategy")),
    # `stop_loss long 2%` and `stop_loss short 3%` are two settings
    ast.Setting: StatementKind(_setting, key=lambda n: ("setting", n.name, n.side or ""), verbs=("set", "changed")),
    ast.TimeExit: StatementKind(_time_exit),
    ast.EntryOrder: StatementKind(_entry_order),
    ast.ParamDecl: StatementKind(lambda n: f"param {n.name} = {expr(n.default)}{_domain(n.domain)}",
                                 key=_named, verbs=_DEFINED),
    ast.Assign: StatementKind(_assign, key=_named, verbs=_DEFINED, subject=lambda n: n.name),
    ast.FuncDef: StatementKind(lambda n: f"def {n.name}({', '.join(p.id for p in n.params)}) = {expr(n.body)}",
                               key=_named, verbs=_DEFINED, subject=lambda n: f"function {n.name}"),
    ast.Rule: StatementKind(lambda n: f"{n.action} {n.side}{_portion(n.portion)} when {expr(n.cond)}",
                            verbs=("rule added:", "rule added:"), subject=lambda n: f"{n.action} {n.side}"),
    ast.Optimize: StatementKind(lambda n: " ".join([f"optimize {n.goal} {n.objective}",
                                                     *map(_optimize_clause, n.clauses)]),
                                key=_one_per_script("optimize")),
}


def kind(node: ast.Statement) -> StatementKind:
    """The entry of `node`'s kind (a kind missing here is a TypeError, never silently skipped)."""
    found = STATEMENTS.get(type(node))
    if found is None:
        raise TypeError(f"no entry for the statement kind {type(node).__name__}")
    return found


def statement(node: ast.Statement) -> str:
    """Canonical text of one statement (one line)."""
    return kind(node).write(node)


def program(node: ast.Program) -> str:
    """Canonical text of a whole script (comments are not part of the AST)."""
    return "".join(statement(s) + "\n" for s in node.statements)


def key(node: ast.Statement) -> Key | None:
    """What a statement defines: a later statement with the same key replaces it; None adds up."""
    return kind(node).key(node)


def said(node: ast.Statement, *, replaced: bool) -> str:
    """How a reply says what an input did with `node`: "defined x", "set fee 0.1%", "added: ..."."""
    entry = kind(node)
    return f"{entry.verbs[replaced]} {entry.subject(node) if entry.subject else entry.write(node)}"
