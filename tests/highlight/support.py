"""Shared helpers of the highlighting tests: the files to lex and roles per character."""
from __future__ import annotations

from pathlib import Path

from pygments.token import (Comment, Error, Keyword, Literal, Name, Number, Operator, Punctuation,
                            String, _TokenType)

from tradebot.lang.tooling.highlight import TbsLexer

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = sorted((ROOT / "examples").glob("*.tbs"))
SAMPLES = sorted(GOLDEN.glob("*.tbs"))
VALID_FILES = [*EXAMPLES, GOLDEN / "showcase.tbs"]  # files that must lex without an Error token
ALL_FILES = [*EXAMPLES, *SAMPLES]

# The test's own reading of Pygments tokens as roles (deliberately not highlight.TOKENS).
# Most specific first: Keyword.Pseudo before Keyword, Name.Builtin.Pseudo before Name.Builtin.
PYGMENTS_ROLES: tuple[tuple[_TokenType, str], ...] = (
    (Comment, "comment"), (String, "string"), (Literal.Date, "timeframe"), (Number, "number"),
    (Keyword.Pseudo, "setting"), (Keyword.Declaration, "declaration"), (Keyword.Constant, "constant"),
    (Keyword, "keyword"), (Operator.Word, "operator_word"), (Name.Builtin.Pseudo, "series"),
    (Name.Builtin, "function"), (Name.Attribute, "field"), (Error, "error"),
    (Operator, "operator"), (Punctuation, "punctuation"), (Name, "name"),
)


def pygments_role(token: _TokenType) -> str | None:
    for parent, role in PYGMENTS_ROLES:
        if token in parent:
            return role
    return None


def lex(text: str) -> list[tuple[int, _TokenType, str]]:
    return list(TbsLexer().get_tokens_unprocessed(text))


def pygments_roles_by_line(text: str) -> list[list[str | None]]:
    """For each line, the role of each of its characters."""
    flat: list[str | None] = [None] * len(text)
    for start, token, value in lex(text):
        role = pygments_role(token)
        for i in range(start, start + len(value)):
            flat[i] = role
    lines, offset = [], 0
    for line in text.split("\n"):
        lines.append(flat[offset: offset + len(line.rstrip("\r"))])
        offset += len(line) + 1
    return lines
