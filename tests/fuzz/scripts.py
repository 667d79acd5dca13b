"""Hypothesis strategies for hostile scripts: well-formed ones from the grammar and the builtin
registry, ill-formed token soups, and mutations of the example scripts (tokens deleted, doubled,
swapped; random bytes; deep nesting; huge numbers)."""
from __future__ import annotations

import re
from pathlib import Path

from hypothesis import strategies as st

from tradebot.lang.builtins import REGISTRY
from tradebot.lang.grammar import KEYWORDS
from tradebot.lang.settings import SETTINGS

from ..lang.strategies import expressions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "examples").glob("*.tbs"))}

_TOKEN = re.compile(r"\s+|\w+%?|\d+\.\d+|\.\.|[<>=!]=|.", re.S)
OPERATORS = ("+", "-", "*", "/", "^", "<", "<=", ">", ">=", "==", "!=", "=", "(", ")", "[", "]", ",", ".", "..",
             "@", "%", '"', "#")
WORDS = (*KEYWORDS, *REGISTRY, *SETTINGS, "x", "y", "n", "at", "limit", "stop", "expire", "after", "risk",
         "maximize", "minimize", "sharpe", "by", "bayes", "grid", "random", "trials", "seed", "where",
         "validate", "split", "walk_forward", "folds", "of", "equity", "to")
NUMBERS = ("0", "1", "2.5", "14", "1_000", "5%", "0.05%", "4h", "1e309", "1e38", "9" * 320, "1" * 4400, "10^12")
ODD_TEXT = ("\ufeff", "\x00", "\r", "\r\n", "\t", "\f", "\x0b", "\u2028", "é", "€", "\U0001f600", "\\", '"')

WELL_NUMBER, WELL_CONDITION = expressions()


@st.composite
def well_formed(draw) -> str:
    """A script that should check: definitions, a param and rules from the registry."""
    number, cond = draw(WELL_NUMBER), draw(WELL_CONDITION)
    lines = ["param n = 14 in 5..30", f"x = {number}", f"enter long when {cond}",
             f"exit long when x > x[1] or {cond}", "stop_loss long 2%"]
    return "\n".join(draw(st.permutations(lines))) + "\n"


def token_soup() -> st.SearchStrategy[str]:
    """Grammar words, operators, numbers and odd characters in random order and layout."""
    piece = st.one_of(st.sampled_from(WORDS), st.sampled_from(OPERATORS), st.sampled_from(NUMBERS),
                      st.sampled_from(ODD_TEXT), st.sampled_from(("\n", "\n  ", " ")))
    return st.lists(piece, max_size=60).map(lambda parts: " ".join(parts))


def deep(draw, expression: str) -> str:
    depth = draw(st.integers(1, 700))
    kind = draw(st.sampled_from(("paren", "neg", "call", "sum", "not", "index")))
    if kind == "paren":
        return "(" * depth + expression + ")" * depth
    if kind == "neg":
        return "-" * depth + expression
    if kind == "call":
        return "abs(" * depth + expression + ")" * depth
    if kind == "not":
        return "not " * depth + f"({expression} > 0)"
    if kind == "index":
        return expression + "[1]" * depth
    return " + ".join([expression] * depth)


@st.composite
def mutated_example(draw) -> str:
    """An example script with a few random edits."""
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    tokens = _TOKEN.findall(EXAMPLES[name])
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        edit = draw(st.sampled_from(("delete", "duplicate", "swap", "bytes", "word", "deep", "chain")))
        if edit == "delete":
            del tokens[i]
        elif edit == "duplicate":
            tokens.insert(i, tokens[i])
        elif edit == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif edit == "bytes":
            raw = draw(st.binary(min_size=1, max_size=8))
            tokens.insert(i, raw.decode("utf-8", errors="replace"))
        elif edit == "word":
            tokens[i] = draw(st.one_of(st.sampled_from(WORDS), st.sampled_from(NUMBERS), st.sampled_from(OPERATORS)))
        elif edit == "deep":
            tokens[i] = deep(draw, tokens[i] if tokens[i].strip() else "close")
        else:  # a long chain of definitions, each using the one before (twice)
            n = draw(st.integers(1, 400))
            tokens.insert(0, "".join(f"c{k} = c{k - 1} + c{k - 1}\n" if k else "c0 = close\n" for k in range(n)))
    return "".join(tokens)
