"""Load the .tbs grammar once (LALR, positions kept) and apply the layout rule after lexing.

The grammar file lives in the repo's top-level grammar/ folder, installed as the `tradebot.grammar`
package so an installed wheel finds it too.
"""
from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Iterator

from lark import Lark, Token

GRAMMAR_PACKAGE = "tradebot.grammar"
GRAMMAR_FILE = "tbs.lark"

OPENERS = {"LPAR", "LSQB"}
CLOSERS = {"RPAR", "RSQB"}


def _grammar_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(reserved, contextual): the grammar's quoted words, split by its `// contextual words:` line."""
    lines = grammar_text().splitlines()
    marked = [line.split(":", 1)[1].split() for line in lines if line.startswith("// contextual words:")]
    assert len(marked) == 1, "grammar/tbs.lark lists its contextual words on one `// contextual words:` line"
    rules = "\n".join(line.split("//")[0] for line in lines)
    words = dict.fromkeys(re.findall(r'"([A-Za-z_]+)"', rules))
    return tuple(w for w in words if w not in marked[0]), tuple(marked[0])


class LayoutPostLex:
    """Drops newlines that do not end a statement.

    A newline inside brackets, or one followed by an indented line, continues the statement:
    statements start at column 1 and indented lines belong to the statement above.
    A comment line indented deeper than the next statement is harmless: the newline after it
    is not indented, so the statement still ends there.
    """

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        previous = None
        for token in stream:
            if token.type in OPENERS:
                depth += 1
            elif token.type in CLOSERS:
                depth = max(0, depth - 1)
            elif token.type == "_NL":
                # Comment-only lines split one newline run in two; statements need only one.
                if depth > 0 or _continues(token) or previous == "_NL":
                    continue
            previous = token.type
            yield token


def _continues(newline: Token) -> bool:
    last_line = str(newline).rsplit("\n", 1)[-1]
    return last_line != "" and last_line.strip(" \t") == ""


def grammar_text() -> str:
    return resources.files(GRAMMAR_PACKAGE).joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


# Words the grammar reserves; they cannot name a series, param or function. The contextual ones
# (`optimize`'s clauses, the risk words `at`, `risk`, `after`, `limit`, `stop`, `expire`, ...) are
# keywords only where a name cannot stand, e.g. `at` right after a setting's name or `enter long`.
KEYWORDS, CONTEXTUAL_WORDS = _grammar_words()


@functools.lru_cache(maxsize=None)
def get_parser() -> Lark:
    """The LALR parser; start symbols `start` (a whole script) and `expr` (one expression)."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        postlex=LayoutPostLex(),
        propagate_positions=True,
        maybe_placeholders=True,
        start=["start", "expr"],
        cache=True,
    )
