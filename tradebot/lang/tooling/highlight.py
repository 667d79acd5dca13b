"""A Pygments lexer for .tbs, registered through the `pygments.lexers` entry point (pyproject.toml), so
`pygmentize -l tbs examples/rsi.tbs`, the REPL and any Pygments-based tool highlight scripts.

Its word lists and literal patterns are not written here: they come from `vocabulary()`, which reads
the grammar's terminals, `grammar.KEYWORDS`, the builtin registry and the settings registry. This
module only decides which Pygments token each role gets (`TOKENS`) and the order rules are tried in,
mirroring the parser's lexer: percentages before numbers, literals before names.

Unlike the parser this lexer never fails: a character the language does not know becomes an `Error`
token, and an unterminated string is still a string (it is being typed).
"""
from __future__ import annotations

from pygments.lexer import RegexLexer, default
from pygments.token import (Comment, Error, Keyword, Literal, Name, Number, Operator, Punctuation,
                            String, Whitespace, _TokenType)

from . import vocabulary as v

# Which Pygments token each role of the vocabulary gets (tmgen.SCOPES is the TextMate twin).
TOKENS: dict[str, _TokenType] = {
    v.COMMENT: Comment.Single,
    v.STRING: String.Double,
    v.NUMBER: Number,
    v.PERCENT: Number,
    v.TIMEFRAME: Literal.Date,
    v.KEYWORD: Keyword,
    v.DECLARATION: Keyword.Declaration,
    v.CONSTANT: Keyword.Constant,
    v.OPERATOR_WORD: Operator.Word,
    v.SETTING: Keyword.Pseudo,
    v.FUNCTION: Name.Builtin,
    v.SERIES: Name.Builtin.Pseudo,
    v.FIELD: Name.Attribute,
    v.NAME: Name,
    v.OPERATOR: Operator,
    v.PUNCTUATION: Punctuation,
    v.WHITESPACE: Whitespace,
}
UNTERMINATED_STRING = r'"[^"\r\n]*'


def token_table(vocab: v.Vocabulary) -> dict[str, list]:
    """The lexer's state table, built from the vocabulary (a function so tests can pass others)."""
    lit = vocab.literals
    root = [
        (vocab.whitespace, TOKENS[v.WHITESPACE]),
        (r"\r?\n", TOKENS[v.WHITESPACE]),
        (lit[v.COMMENT], TOKENS[v.COMMENT]),
        (lit[v.STRING], TOKENS[v.STRING]),
        (UNTERMINATED_STRING, TOKENS[v.STRING]),
        (lit[v.PERCENT], TOKENS[v.PERCENT]),
        (lit[v.NUMBER], TOKENS[v.NUMBER]),
        # A setting is only a setting where a statement starts (`fee 0.05%`).
        ("^" + v.words_pattern(vocab.settings), TOKENS[v.SETTING]),
        *((v.words_pattern(words), TOKENS[role]) for role, words in sorted(vocab.keywords.items())),
        (v.words_pattern(vocab.functions), TOKENS[v.FUNCTION]),
        (v.words_pattern(vocab.series), TOKENS[v.SERIES]),
        (lit[v.NAME], TOKENS[v.NAME]),
        *((op, TOKENS[v.OPERATOR]) for op in vocab.operators),
        (vocab.field_access, TOKENS[v.PUNCTUATION], "field"),
        (vocab.timeframe_marker, TOKENS[v.OPERATOR], "timeframe"),
        *((p, TOKENS[v.PUNCTUATION]) for p in vocab.punctuation),
        (r".", Error),
    ]
    return {
        "root": root,
        "field": [(vocab.whitespace, TOKENS[v.WHITESPACE]), (lit[v.NAME], TOKENS[v.FIELD], "#pop"),
                  default("#pop")],
        "timeframe": [(vocab.whitespace, TOKENS[v.WHITESPACE]),
                      (lit[v.TIMEFRAME], TOKENS[v.TIMEFRAME], "#pop"), default("#pop")],
    }


class TbsLexer(RegexLexer):
    """TradeBot strategy scripts (.tbs)."""

    name = "TradeBot"
    aliases = ["tbs", "tradebot"]
    filenames = ["*.tbs"]
    mimetypes = ["text/x-tbs"]

    tokens = token_table(v.vocabulary())
