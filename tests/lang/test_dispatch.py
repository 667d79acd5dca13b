"""Dispatch on node classes: every kind of expression and statement has its one entry."""
from __future__ import annotations

from typing import get_args

import pytest

from tradebot.lang import ast, statements
from tradebot.lang.parser import parse_program
from tradebot.lang.resolve import _RESOLVE


def test_the_resolver_has_a_method_for_every_expression_kind() -> None:
    assert set(_RESOLVE) == set(get_args(ast.Expr))


def test_every_statement_kind_has_its_entry() -> None:
    assert set(statements.STATEMENTS) == set(get_args(ast.Statement))


@pytest.mark.parametrize("text, said", [
    ("x = close", "defined x"),
    ("param n = 14 in 5..30", "defined param n = 14 in 5..30"),
    ("def twice(a) = a * 2", "defined function twice"),
    ("fee 0.1%", "set fee 0.1%"),
    ("enter long when close > open", "rule added: enter long"),
    ("exit after 5 bars", "added: exit after 5 bars"),
    ('strategy "s"', 'added: strategy "s"'),
])
def test_a_reply_names_each_kind_as_the_repl_always_has(text: str, said: str) -> None:
    node = parse_program(text + "\n").statements[0]
    assert statements.said(node, replaced=False) == said


def test_what_replaces_what() -> None:
    """A later statement with the same key replaces the earlier one; rules add up."""
    def key(text: str) -> tuple[str, ...] | None:
        return statements.key(parse_program(text + "\n").statements[0])

    assert key("x = close") == key("x = open") == key("param x = 3") == key("def x(a) = a")
    assert key("stop_loss long 2%") != key("stop_loss short 2%")
    assert key('strategy "a"') == key('strategy "b"') != key("optimize maximize sharpe")
    assert key("enter long when close > open") is None
