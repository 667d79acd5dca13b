"""The words and token shapes of .tbs, derived from the grammar and the registries.

The Pygments lexer (highlight.py), the TextMate grammar generator (tmgen.py) and the REPL completer
read this module, so a keyword added to grammar/tbs.lark, a builtin added to the registry or a
setting added to SETTINGS shows up in every one of them without anybody copying a list.

What is derived here:
- keywords: `grammar.KEYWORDS` plus every word-shaped string terminal of the grammar;
- builtin functions and price series: `builtins.REGISTRY`; settings: `settings.SETTINGS`;
- literal patterns (numbers, percentages, timeframes, strings, comments, names): the grammar's
  terminals, so the highlighters accept exactly what the parser accepts;
- operators and punctuation: the remaining terminals.

Only presentation is decided here by hand: which few keywords are declarations, constants or
operator words (`WORD_ROLES`); every other keyword is a plain keyword. Contextual words (`trials`,
`at`, `limit`: grammar words that are not in KEYWORDS and may still name a series) are highlighted
as keywords everywhere, since a highlighter does not know the parser's state.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lark.lexer import PatternStr

from ..builtins import REGISTRY
from ..grammar import KEYWORDS, get_parser
from ..settings import SETTINGS

# The roles a piece of .tbs text can play; both highlighters map each role to their own names.
COMMENT, STRING, NUMBER, PERCENT, TIMEFRAME = "comment", "string", "number", "percent", "timeframe"
KEYWORD, DECLARATION, CONSTANT, OPERATOR_WORD = "keyword", "declaration", "constant", "operator_word"
SETTING, FUNCTION, SERIES, FIELD, NAME = "setting", "function", "series", "field", "name"
OPERATOR, PUNCTUATION, WHITESPACE = "operator", "punctuation", "whitespace"

# Presentation only: keywords not listed here are plain keywords (new grammar words included).
WORD_ROLES = {
    "strategy": DECLARATION, "param": DECLARATION, "def": DECLARATION,
    "true": CONSTANT, "false": CONSTANT,
    "and": OPERATOR_WORD, "or": OPERATOR_WORD, "not": OPERATOR_WORD,
}

# Grammar terminals with a fixed meaning for highlighting (Lark names them in grammar/tbs.lark).
LITERAL_TERMINALS = {"COMMENT": COMMENT, "STRING": STRING, "PERCENT": PERCENT, "NUMBER": NUMBER,
                     "TIMEFRAME": TIMEFRAME, "NAME": NAME}
FIELD_TERMINAL = "DOT"  # `x.field`
TIMEFRAME_TERMINAL = "AT"  # `expr @ 4h`: a timeframe follows
_PUNCTUATION_CHARS = set("()[]{},;")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Vocabulary:
    """Everything a highlighter or completer needs to know about .tbs words and tokens."""

    keywords: dict[str, tuple[str, ...]]  # role -> sorted words (KEYWORD, DECLARATION, ...)
    functions: tuple[str, ...]  # builtin functions and indicators
    series: tuple[str, ...]  # builtin price series (`close`, `hl2`, ...)
    settings: tuple[str, ...]
    literals: dict[str, str]  # role -> regex (NUMBER, PERCENT, TIMEFRAME, STRING, COMMENT, NAME)
    operators: tuple[str, ...]  # regexes, to be tried in this order
    punctuation: tuple[str, ...]  # regexes
    field_access: str  # regex of the `.` before a field name
    timeframe_marker: str  # regex of the `@` before a timeframe
    whitespace: str  # regex of blanks within a line

    @property
    def all_keywords(self) -> tuple[str, ...]:
        return tuple(sorted(w for words in self.keywords.values() for w in words))


@functools.lru_cache(maxsize=None)
def vocabulary() -> Vocabulary:
    """The vocabulary of the grammar and registries as loaded now."""
    terminals = {t.name: t.pattern for t in get_parser().terminals}
    words = {p.value for p in terminals.values() if isinstance(p, PatternStr) and _WORD.fullmatch(p.value)}
    keywords: dict[str, list[str]] = {}
    for word in sorted(words | set(KEYWORDS)):
        keywords.setdefault(WORD_ROLES.get(word, KEYWORD), []).append(word)
    return Vocabulary(
        keywords={role: tuple(ws) for role, ws in keywords.items()},
        functions=tuple(sorted(n for n, b in REGISTRY.items() if not b.is_series)),
        series=tuple(sorted(n for n, b in REGISTRY.items() if b.is_series)),
        settings=tuple(sorted(SETTINGS)),
        literals={role: terminals[name].to_regexp() for name, role in LITERAL_TERMINALS.items()},
        operators=_operators(terminals, words),
        punctuation=tuple(re.escape(p.value) for p in terminals.values()
                          if isinstance(p, PatternStr) and set(p.value) <= _PUNCTUATION_CHARS),
        field_access=terminals[FIELD_TERMINAL].to_regexp(),
        timeframe_marker=terminals[TIMEFRAME_TERMINAL].to_regexp(),
        whitespace=r"[\t \f]+",
    )


def _operators(terminals: dict, words: set[str]) -> tuple[str, ...]:
    """Operator terminals: regex ones first (they hold the multi-character comparisons), then the
    literal ones longest first, so `..` wins over `.` and `==` over `=`."""
    special = set(LITERAL_TERMINALS) | {FIELD_TERMINAL, TIMEFRAME_TERMINAL}
    regexes, literals = [], []
    for name, pattern in terminals.items():
        if name in special or _is_blank(pattern.to_regexp()):  # newlines and ignored blanks
            continue
        if not isinstance(pattern, PatternStr):
            regexes.append(pattern.to_regexp())
        elif pattern.value not in words and not set(pattern.value) <= _PUNCTUATION_CHARS:
            literals.append(pattern.value)
    literals.sort(key=lambda text: (-len(text), text))
    return tuple(regexes) + tuple(re.escape(text) for text in literals)


def _is_blank(regex: str) -> bool:
    return any(re.fullmatch(regex, blank) for blank in (" ", "\t", "\n"))


def words_pattern(words: tuple[str, ...] | list[str]) -> str:
    """One regex matching any of `words` as a whole word (longest first, so `in` never cuts `int`)."""
    ordered = sorted(words, key=lambda w: (-len(w), w))
    return r"\b(?:" + "|".join(re.escape(w) for w in ordered) + r")\b"


def noncapturing(pattern: str) -> str:
    """`pattern` with its capturing groups made non-capturing, so it can sit inside a larger regex
    whose groups are numbered (Pygments' bygroups, TextMate's captures)."""
    out: list[str] = []
    escaped = in_class = False
    for index, char in enumerate(pattern):
        out.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(" and not pattern.startswith("?", index + 1):
            out.append("?:")
    return "".join(out)
