"""The operator registry (lang/operators.py) against the grammar (grammar/tbs.lark), read through
the parser Lark builds from it: every operator the grammar parses has a spec and every spec an
operator rule, with the same words, level and operand levels. The formatter's precedence and the
resolver's types come from the specs, so a grammar change that the registry does not follow fails
here rather than as a wrong parenthesis or a missing lowering."""
from __future__ import annotations

import itertools
import re

from lark.lexer import PatternRE, PatternStr

from tradebot.lang import ir
from tradebot.lang.grammar import get_parser
from tradebot.lang.operators import LEVELS, OPERATORS
from tradebot.pipeline import compile_source

# Postfix forms that are not operators: a builtin call (ir.Call), a field of a multi-output call
# (ir.FieldOf) and a timeframe (ir.Resample) each have their own node and registry.
NOT_OPERATORS = {"call", "field", "at_timeframe", "of_symbol"}


def _rules():
    return get_parser().rules


def _alternatives(terminal: str) -> list[str]:
    pattern = next(t.pattern for t in get_parser().terminals if t.name == terminal)
    if isinstance(pattern, PatternStr):
        return [pattern.value]
    assert isinstance(pattern, PatternRE) and pattern.value.startswith("(?:"), pattern
    return [re.sub(r"\\(.)", r"\1", alt) for alt in pattern.value[3:-1].split("|")]


def _literal_choices(symbol) -> list[str]:
    """A terminal's spellings, or a nonterminal's that is only a choice of words (`cross_dir`)."""
    if symbol.is_term:
        return _alternatives(symbol.name)
    rules = [r for r in _rules() if r.origin.name == symbol.name]
    assert all(len(r.expansion) == 1 and r.expansion[0].is_term for r in rules), symbol.name
    return [word for r in rules for word in _alternatives(r.expansion[0].name)]


def _level_of(name: str) -> str | None:
    return "conditional" if name == "expr" else name if name in LEVELS else None


def test_the_levels_are_the_grammars_precedence_chain() -> None:
    chain, current = [], "expr"
    while True:
        passes = [r for r in _rules() if r.origin.name == current and r.alias is None
                  and len(r.expansion) == 1 and not r.expansion[0].is_term]
        if not passes:
            break
        current = passes[0].expansion[0].name
        chain.append(current)
    assert tuple(chain) == LEVELS


def _grammar_operators() -> set[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    found = set()
    for rule in _rules():
        if rule.origin.name not in LEVELS or rule.origin.name == "atom" or rule.alias in NOT_OPERATORS:
            continue
        if rule.alias is None:  # a pass-through to the next level
            continue
        operands = tuple(_level_of(s.name) for s in rule.expansion if not s.is_term and _level_of(s.name))
        words = [_literal_choices(s) for s in rule.expansion if s.is_term or not _level_of(s.name)]
        for spelling in itertools.product(*words):
            found.add((rule.alias, rule.origin.name, spelling, operands))
    return found


def test_every_operator_of_the_grammar_has_a_spec_and_every_spec_a_grammar_rule() -> None:
    specs = {(s.rule, s.level, s.words, s.operand_levels) for s in OPERATORS.values()}
    grammar = _grammar_operators()
    assert grammar - specs == set(), "operators the grammar parses without a spec in lang/operators.py"
    assert specs - grammar == set(), "specs in lang/operators.py the grammar does not parse"


def test_each_operator_checks_to_its_own_ir_node() -> None:
    """The spec written out (its syntax with simple operands) parses and checks to an ir.Op of
    that name: the resolver reads the same names the registry holds."""
    sample = {None: "close", "NUMBER": "close", "BOOL": "close > open"}
    for spec in OPERATORS.values():
        operands = []
        for index, level in enumerate(spec.operand_levels):
            if spec.counts_bars and index == len(spec.operand_levels) - 1:
                operands.append("3")
            elif spec.name == "if" and index > 0:
                operands.append("close")
            else:
                operand = sample[spec.operand.name if spec.operand else None]
                operands.append(operand if level in ("conditional", "comparison") or " " not in operand
                                else f"({operand})")
        text = spec.write(*operands)
        node = compile_source(f"x = {text}\n", filename="op.tbs").checked.series["x"]
        ops = [n.op for n in ir.walk(node) if isinstance(n, ir.Op)]
        assert ops and ops[0] == spec.name, (text, ops)


def test_every_documented_operator_is_in_the_table_and_its_example_uses_it() -> None:
    from tradebot.lang.tooling import docgen

    documented = [spec for spec in OPERATORS.values() if spec.meaning]
    assert {spec.name for spec in documented} <= set(docgen._OPERATOR_ROWS)
    for spec in documented:
        assert len(spec.shown) == len(spec.operand_levels), spec.name
        node = compile_source(f"x = {spec.example}\n", filename="op.tbs").checked.series["x"]
        assert spec.name in {n.op for n in ir.walk(node) if isinstance(n, ir.Op)}, spec.example
