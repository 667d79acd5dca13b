"""Syntax of the risk statements: what they parse to, canonical text, contextual words, and the
friendly hints for common slips (with where the caret lands)."""
from __future__ import annotations

import pytest

from tradebot.lang import ast
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.grammar import KEYWORDS, get_parser
from tradebot.lang.parser import parse_program
from tradebot.lang.statements import program as unparse

RISK_WORDS = ("at", "risk", "after", "limit", "stop", "expire")


def only_statement(text: str):
    [statement] = parse_program(text + "\n").statements
    return statement


@pytest.mark.parametrize(("text", "side", "mark", "units"), [
    ("stop_loss 2%", None, None, ()),
    ("stop_loss long 2%", "long", None, ()),
    ("stop_loss short at highest(high, 10)", "short", "at", ()),
    ("take_profit at close * 1.02", None, "at", ()),
    ("size 50% of equity", None, None, ("of", "equity")),
    ("size risk 1% to stop", None, "risk", ("to", "stop")),
    ("fee 1 per order", None, None, ("per", "order")),
    ("slippage 2 ticks", None, None, ("ticks",)),
])
def test_settings_carry_side_mark_and_units(text, side, mark, units):
    setting = only_statement(text)
    assert isinstance(setting, ast.Setting)
    assert (setting.side, setting.mark, setting.units) == (side, mark, units)


def test_units_span_covers_the_unit_words():
    setting = only_statement("size 50% of equity")
    assert (setting.units_span.column, setting.units_span.end_column) == (10, 19)


def test_time_exit_and_entry_order_statements():
    assert only_statement("exit after 24 bars") == ast.TimeExit("exit", None, ast.Number(24, True))
    assert only_statement("exit short after n bars") == ast.TimeExit("exit", "short", ast.Name("n"))
    order = only_statement("enter long at limit close * 0.99 expire 3 bars")
    assert isinstance(order, ast.EntryOrder)
    assert (order.side, order.kind, order.expire) == ("long", "limit", ast.Number(3, True))
    assert only_statement("enter short at stop low[1]").expire is None


@pytest.mark.parametrize("text", [
    "stop_loss 2%", "stop_loss long at lowest(low, 10)", "take_profit short 3 * atr(14)",
    "trailing_stop 1.5%", "break_even long 0.5 * atr(14)", "size 50% of equity", "size 2 units",
    "size 1000 cash", "size risk 1% to stop", "fee 1 per order", "spread 1 tick", "fill optimistic",
    "exit after 24 bars", "exit long after n + 1 bars", "enter long at limit close * 0.99 expire 3 bars",
    "enter short at stop low[1]", "enter long at limit (close + open) / 2 expire n + 1 bars",
])
def test_canonical_text_is_a_fixed_point(text):
    assert unparse(parse_program(text + "\n")) == text + "\n"


def test_the_risk_words_are_contextual_not_reserved():
    source = "\n".join(f"{word} = close" for word in RISK_WORDS)
    source += "\nx = at + risk + after + limit + stop + expire\nstop_loss at stop\nenter long when x > stop\n"
    tree = parse_program(source)
    assert [s.name for s in tree.statements[:6]] == list(RISK_WORDS)
    assert tree.statements[7].value == ast.Name("stop")
    assert not set(RISK_WORDS) & set(KEYWORDS)
    grammar_words = {t.pattern.value for t in get_parser().terminals}
    assert set(RISK_WORDS) <= grammar_words  # so the highlighters pick them up


def test_at_keeps_the_timeframe_operator_apart():
    # `at` (a word) and `@` (the timeframe operator) are distinct terminals.
    names = {t.pattern.value: t.name for t in get_parser().terminals}
    assert names["@"] == "AT" and names["at"] != "AT"


def syntax_error(text: str):
    with pytest.raises(ScriptDiagnostics) as caught:
        parse_program(text + "\n", "t.tbs")
    [diagnostic] = caught.value.diagnostics
    return diagnostic


@pytest.mark.parametrize(("text", "column", "hint"), [
    ("exit after 24", 14, "a time exit reads `exit after 24 bars`"),
    ("exit long after 3", 18, "a time exit reads"),
    ("enter long at limit close * 0.99 expire 3", 42, "`expire 3 bars`"),
    ("enter long at close * 0.99", 15, "say the order type"),
    ("enter long when close < open at limit close", 30, "an entry order is its own statement"),
    ("stop_loss long = 2%", 16, "a setting is written without `=`"),
    ("enter long at limit", 20, "the order's price is missing"),
    ("stop_loss at", 13, "the price level is missing"),
    ("exit after 24 bars when close > open", 20, "a time exit has no condition"),
])
def test_friendly_hints_for_common_slips(text, column, hint):
    diagnostic = syntax_error(text)
    assert (diagnostic.span.line, diagnostic.span.column) == (1, column)
    assert hint in diagnostic.hint


def test_a_slip_after_other_statements_gets_the_same_hint():
    with pytest.raises(ScriptDiagnostics) as caught:
        parse_program("x = 1\n\nexit after 24\nstop_loss long = 2%\n", "t.tbs")
    hints = [(d.span.line, d.hint) for d in caught.value.diagnostics]
    assert [line for line, _ in hints] == [3, 4]
    assert "exit after 24 bars" in hints[0][1] and "without `=`" in hints[1][1]
