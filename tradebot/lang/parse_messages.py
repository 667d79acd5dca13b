"""Friendly wording for syntax errors.

FRIENDLY_EXAMPLES maps a message to known-bad inputs; Lark's `match_examples` finds the parser
state an error happened in and, when it matches one of these inputs' states, uses the message
(the technique of Lark's own examples). `describe_*` turn token names into words a trader reads.
"""
from __future__ import annotations

import functools
from typing import Callable, Iterable

from lark import Token
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken

_EXAMPLES: dict[str, list[str]] = {
    "a rule reads `enter long when <condition>`: add `when` before the condition": [
        "enter long close > open",
        "exit short r < 30",
        "enter long if close > open",
        "enter long",
        "exit short",
    ],
    "say which side the rule is for: `enter long when …` or `enter short when …`": [
        "enter when close > open",
        "exit when close > open",
        "enter buy when close > open",
    ],
    "a param reads `param name = default in low..high [step s]` or `in [a, b, c]`": [
        "param length 14",
        "param length = 14 in 5",
        "param length = 14 in 5 to 30",
        "param length = 14 5..30",
        "param length = 14 in [5 10]",
    ],
    "`if` needs both branches: `if cond then a else b`": [
        "x = if close > open then 1",
        "x = if close > open 1 else 2",
    ],
    "a function definition reads `def name(a, b) = expression`": [
        "def band(src, n) sma(src, n)",
        "def band src, n = sma(src, n)",
        "def band(src n) = sma(src, n)",
    ],
    "the expression stops after an operator: something is missing on its right": [
        "x = close +",
        "x = close *",
        "x = close >",
        "x = close > open and",
        "x = close > open or",
    ],
    "arguments are separated by commas: `f(a, b)`": [
        "x = sma(close 20)",
        "x = rsi(close, 14 2)",
    ],
    "`crosses` needs a direction: `a crosses above b` or `a crosses below b`": [
        "enter long when r crosses 30",
        "enter long when r crosses over 30",
    ],
    "history takes a bar count in brackets: `close[1]` is the previous close": [
        "x = close[]",
    ],
    "a statement is a definition (`x = ...`), a rule (`enter long when ...`), a `param` or a setting": [
        "close > open",
        "x >= 1",
        "x + 1",
    ],
    "`=` assigns; compare with `==`": [
        "enter long when close = open",
    ],
    "a time exit reads `exit after 24 bars` (or `exit long after 24 bars`)": [
        "exit after 24",
        "exit long after 24",
        "exit short after n + 1",
    ],
    "an entry order's lifetime reads `expire 3 bars`": [
        "enter long at limit close * 0.99 expire 3",
        "enter short at stop low expire 3",
    ],
    "say the order type: `enter long at limit PRICE` (fills at or below the price) or "
    "`enter long at stop PRICE` (at or above)": [
        "enter long at close * 0.99",
        "enter short at 1.25",
        "enter long at market",
    ],
    "an entry order is its own statement, `enter long at limit PRICE`; the `when` rule says when "
    "to place it": [
        "enter long when close < open at limit close",
        "enter short when close > open at stop low",
    ],
    "a setting is written without `=`: `stop_loss long 2%`": [
        "stop_loss long = 2%",
        "take_profit short = 3%",
    ],
    "the order's price is missing: `enter long at limit close * 0.99`": [
        "enter long at limit",
        "enter short at stop",
    ],
    "the price level is missing: `stop_loss at lowest(low, 10)`": [
        "stop_loss at",
        "take_profit short at",
    ],
    "a time exit has no condition: write `exit after 24 bars` and `exit long when …` separately": [
        "exit after 24 bars when close > open",
    ],
}

# Lark matches an error to an example by parser state, stack depth included: a statement after
# blank lines or other statements sits one level deeper, so every example also appears there.
FRIENDLY_EXAMPLES: dict[str, list[str]] = {
    message: [*examples, *("\n" + e for e in examples), *("x = 1\n" + e for e in examples)]
    for message, examples in _EXAMPLES.items()
}



def friendly_hint(error: UnexpectedInput, parse: Callable[[str], object]) -> str | None:
    """The message of the example whose error happened in the same parser state as `error`.

    Lark's own `match_examples` re-parses every example on every call and, in lark 1.3.1, crashes
    formatting a debug message (`%d` given a ParserState) whenever two errors share a state but not
    the accepted tokens — the case of `enter long` without `when`. This matcher parses the examples
    once and compares states itself: same stack depth and state, same accepted tokens; an exact
    token match wins over a state-only match.
    """
    key = _state_key(error)
    if key is None:
        return None
    token = getattr(error, "token", None)
    candidate = None
    for label, example_key, example_token in _example_errors(parse):
        if example_key != key:
            continue
        if token is not None and example_token == token:
            return label
        candidate = candidate or label
    return candidate


def _state_key(error: UnexpectedInput) -> tuple[object, ...] | None:
    state = getattr(error, "state", None)
    if state is None or not isinstance(error, (UnexpectedToken, UnexpectedEOF)):
        return None
    accepts = getattr(error, "accepts", None) if isinstance(error, UnexpectedToken) else None
    return (len(state.state_stack), state.position, frozenset(accepts) if accepts is not None else None)


@functools.lru_cache(maxsize=4)
def _example_errors(parse: Callable[[str], object]) -> tuple[tuple[str, tuple[object, ...], object], ...]:
    found = []
    for label, examples in FRIENDLY_EXAMPLES.items():
        for text in examples:
            try:
                parse(text)
            except UnexpectedInput as err:
                key = _state_key(err)
                if key is not None:
                    found.append((label, key, getattr(err, "token", None)))
    return tuple(found)


_WORDS = {
    "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`", "COMMA": "`,`", "EQUAL": "`=`",
    "DOT": "`.`", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`", "SLASH": "`/`", "CIRCUMFLEX": "`^`",
    "__ANON_0": "`..`", "AT": "`@`", "NAME": "a name", "NUMBER": "a number", "PERCENT": "a percentage",
    "STRING": "a string", "TIMEFRAME": "a timeframe such as `4h`", "COMP_OP": "a comparison",
    "ADD_OP": "`+` or `-`", "MUL_OP": "`*` or `/`", "_NL": "the end of the line", "$END": "the end of the script",
}


def describe_token_type(name: str) -> str:
    if name in _WORDS:
        return _WORDS[name]
    if name.isupper() and name.replace("_", "").isalpha():  # keywords, `min_trades` too
        return f"`{name.lower()}`"
    return name


def describe_token(token: Token) -> str:
    if token.type == "_NL":
        return "end of line"
    if token.type == "$END":
        return "end of the script"
    return f"`{token}`"


# Tokens that continue an expression; listed as one phrase so the useful alternatives stand out.
_OPERATORS = {"COMP_OP", "ADD_OP", "MUL_OP", "CIRCUMFLEX", "AND", "OR", "CROSSES", "FOR", "WITHIN",
              "LPAR", "LSQB", "DOT", "AT"}


def describe_expected(expected: Iterable[str]) -> str:
    expected = set(expected)
    words = sorted({describe_token_type(e) for e in expected - _OPERATORS})
    if expected & _OPERATORS and words:
        words.append("an operator")
    if not words:
        return "check the statement's syntax in docs/language.md"
    if len(words) > 8:
        return "the statement is incomplete or has an extra word here"
    return "expected " + ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]
