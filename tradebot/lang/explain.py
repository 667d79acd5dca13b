"""A checked script in its own words, for reports: each rule with its condition, and each risk
value that is a series as the script wrote it (`distance k * atr(14)`, not an engine column name).
"""
from __future__ import annotations

import re

from . import ast, ir
from .ast import Span
from .checker import CheckedProgram


def rule_conditions(checked: CheckedProgram) -> list[tuple[ast.Rule, ir.Node]]:
    """Every rule, in source order, with its own condition. The checker joins the rules of one
    action and side into one signal as a balanced tree of `or` (checker._any_of: the first half
    of the rules on the left); this undoes exactly those joins, so a rule whose own condition is
    an `or` stays whole."""
    rules = [s for s in checked.program.statements if isinstance(s, ast.Rule)]
    found: list[tuple[ast.Rule, ir.Node]] = []
    for key in dict.fromkeys(f"{r.action}_{r.side}" for r in rules):
        group = [r for r in rules if f"{r.action}_{r.side}" == key]
        found += zip(group, _split(checked.signals[key], len(group)))
    return sorted(found, key=lambda pair: pair[0].span.start)


def _split(node: ir.Node, count: int) -> list[ir.Node]:
    """The `count` conditions `checker._any_of` joined into `node`, in order."""
    if count == 1:
        return [node]
    assert isinstance(node, ir.Op) and node.op == "or", "the checker's join changed"
    half = count // 2
    return [*_split(node.args[0], half), *_split(node.args[1], count - half)]


def written(checked: CheckedProgram, span: Span) -> str:
    """The source text of `span` on one line (a rule over several lines, spaces collapsed)."""
    return re.sub(r"\s+", " ", checked.source[span.start:span.end]).strip()


def risk_as_written(checked: CheckedProgram) -> dict[str, str]:
    """`{"long.stop_loss": "stop_loss k_stop * atr(14)", ...}`: the statement of every risk value
    that is a series, as written (its IR would show a named series inlined); constants are shown
    from the engine's own settings (`2%`, `distance 0.002`)."""
    texts: dict[str, str] = {}
    for side in ("long", "short"):
        risk = checked.risk.side(side)
        for name, level in risk.levels.items():
            if not isinstance(level.value, ir.Const):
                texts[f"{side}.{name}"] = written(checked, level.span)
        if risk.entry is not None and not isinstance(risk.entry.price, ir.Const):
            texts[f"{side}.entry"] = written(checked, risk.entry.span)
        if risk.exit_portion is not None and not isinstance(risk.exit_portion, ir.Const):
            texts[f"{side}.exit_portion"] = _portions(checked, side)
    return texts


def _portions(checked: CheckedProgram, side: str) -> str:
    """`50%, 25% or all, by rule`: the parts a side's exit rules close, as written."""
    parts = [written(checked, rule.portion.span) if rule.portion is not None else "all"
             for rule in checked.program.statements
             if isinstance(rule, ast.Rule) and rule.action == "exit" and rule.side == side]
    return f"{', '.join(dict.fromkeys(parts))} (the largest of the rules that fire)"
