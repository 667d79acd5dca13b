"""The Pygments lexer: golden token files, lossless tokens, no Error on the examples, agreement with
the parser's own lexer, and word lists that follow the grammar and registries.

`pytest tests/highlight --update-goldens` rewrites tests/highlight/golden/*.tokens after an intended
change (review the diff)."""
from __future__ import annotations

import re
from pathlib import Path

import pygments
import pytest
from lark.lexer import PatternStr
from pygments.lexers import find_lexer_class_for_filename, get_lexer_by_name
from pygments.token import Error

from tests.golden import compare_golden
from tests.highlight.support import ALL_FILES, GOLDEN, VALID_FILES, lex, pygments_role
from tradebot.lang.builtins import REGISTRY
from tradebot.lang.grammar import KEYWORDS, get_parser
from tradebot.lang.tooling.highlight import TbsLexer
from tradebot.lang.settings import SETTINGS

KEYWORD_ROLES = {"keyword", "declaration", "constant", "operator_word"}


def dump_tokens(text: str) -> str:
    return "".join(f"{str(token).removeprefix('Token.'):<24} {value!r}\n" for _, token, value in lex(text))


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_golden_tokens(path: Path, update_goldens: bool) -> None:
    golden = GOLDEN / (path.stem + ("" if path.parent == GOLDEN else ".example") + ".tokens")
    compare_golden(golden, dump_tokens(path.read_text(encoding="utf-8")), update_goldens)


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.name)
def test_no_error_token(path: Path) -> None:
    errors = [(start, value) for start, token, value in lex(path.read_text(encoding="utf-8")) if token in Error]
    assert errors == []


def test_invalid_characters_are_errors_and_unterminated_strings_strings() -> None:
    tokens = [(str(t), v) for _, t, v in lex('x = close $ open\ny = "still typing\n')]
    assert ("Token.Error", "$") in tokens
    assert ("Token.Literal.String.Double", '"still typing') in tokens


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_tokens_concatenate_back_to_the_input(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "".join(value for _, _, value in lex(text)) == text
    offsets = [start for start, _, _ in lex(text)]
    assert offsets == sorted(offsets)
    # The public API too, once Pygments is told to keep the input as it is.
    whole = TbsLexer(stripnl=False, ensurenl=False).get_tokens(text)
    assert "".join(value for _, value in whole) == text


def test_crlf_and_tabs_survive() -> None:
    text = "x = close\r\n\t+ open\r\n"
    assert "".join(v for _, _, v in lex(text)) == text


def test_registered_through_the_entry_point() -> None:
    assert isinstance(get_lexer_by_name("tbs"), TbsLexer)
    assert find_lexer_class_for_filename("strategy.tbs") is TbsLexer
    html = pygments.highlight("enter long when rsi(close) < 30\n", get_lexer_by_name("tbs"),
                              pygments.formatters.HtmlFormatter())
    assert '<span class="nb">rsi</span>' in html


def _lark_tokens(text: str):
    """The parser's own lexer (comments kept) — the independent truth for literal boundaries."""
    return get_parser().lex(text, dont_ignore=True)


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.name)
def test_agrees_with_the_parsers_lexer(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    ours = {start: (pygments_role(token), value) for start, token, value in lex(text)}
    words = {t.name for t in get_parser().terminals
             if isinstance(t.pattern, PatternStr) and re.fullmatch(r"\w+", t.pattern.value)}
    expected_role = {"NUMBER": {"number"}, "PERCENT": {"number"}, "STRING": {"string"},
                     "COMMENT": {"comment"}, "TIMEFRAME": {"timeframe"}}
    checked = 0
    for token in _lark_tokens(text):
        roles = KEYWORD_ROLES if token.type in words else expected_role.get(token.type)
        if token.type == "NAME" and str(token) in REGISTRY:
            roles = {"series" if REGISTRY[str(token)].is_series else "function", "field"}
        if roles is None:
            continue
        assert token.start_pos in ours, f"line {token.line}: no token starts at `{token}`"
        role, value = ours[token.start_pos]
        assert (role, value) in {(r, str(token)) for r in roles}, f"line {token.line}: `{token}` lexed as {role} {value!r}"
        checked += 1
    assert checked > 10


def test_every_grammar_word_and_builtin_is_highlighted() -> None:
    grammar_words = {t.pattern.value for t in get_parser().terminals
                     if isinstance(t.pattern, PatternStr) and re.fullmatch(r"[A-Za-z_]\w*", t.pattern.value)}
    for word in grammar_words | set(KEYWORDS):
        assert pygments_role(lex(word)[0][1]) in KEYWORD_ROLES, word
    for name, builtin in REGISTRY.items():
        assert pygments_role(lex(name)[0][1]) == ("series" if builtin.is_series else "function"), name
    for name in SETTINGS:
        assert pygments_role(lex(f"{name} 1")[0][1]) == "setting", name
        assert pygments_role(lex(f"x = {name}")[-1][1]) == "name", f"{name} is a setting only at a statement's start"


def test_field_after_dot_and_timeframe_after_at() -> None:
    roles = [(pygments_role(t), v) for _, t, v in lex("bb(close).upper @ 4h + sma . lower + 5..30")]
    assert ("field", "upper") in roles and ("field", "lower") in roles
    assert ("timeframe", "4h") in roles
    assert ("operator", "..") in roles
