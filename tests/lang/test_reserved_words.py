"""Reserved words come from the grammar (lang/grammar.py reads grammar/tbs.lark): each one is
refused as a name, and each contextual word the grammar lists is still a name where one can stand."""
from __future__ import annotations

import pytest

from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.grammar import CONTEXTUAL_WORDS, KEYWORDS
from tradebot.lang.parser import parse_program


@pytest.mark.parametrize("word", KEYWORDS)
def test_a_reserved_word_cannot_name_a_series(word: str) -> None:
    with pytest.raises(ScriptDiagnostics):
        parse_program(f"{word} = close\n", "t.tbs")


@pytest.mark.parametrize("word", CONTEXTUAL_WORDS)
def test_a_contextual_word_names_a_series_and_reads_in_an_expression(word: str) -> None:
    tree = parse_program(f"{word} = close\nx = {word} + 1\n", "t.tbs")
    assert tree.statements[0].name == word


def test_the_two_lists_cover_every_word_of_the_grammar_once() -> None:
    assert not set(KEYWORDS) & set(CONTEXTUAL_WORDS)
    assert {"if", "and", "crosses", "true", "optimize"} <= set(KEYWORDS)
