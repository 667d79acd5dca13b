"""Identity round trips: canonical text parses back to the same tree, and is a fixed point."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from tradebot.lang.parser import parse_program
from tradebot.lang.statements import program as unparse

from .strategies import expressions

NUMBER, CONDITION = expressions()
ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*ROOT.glob("examples/*.tbs"), *(Path(__file__).parent / "golden" / "parse").glob("*.tbs")])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_round_trip(script: Path) -> None:
    tree = parse_program(script.read_text(encoding="utf-8"))
    text = unparse(tree)
    assert parse_program(text) == tree
    assert unparse(parse_program(text)) == text


@settings(max_examples=150, deadline=None)
@given(number=NUMBER, condition=CONDITION)
def test_generated_expressions_round_trip(number: str, condition: str) -> None:
    tree = parse_program(f"x = {number}\nenter long when {condition}\n")
    text = unparse(tree)
    assert parse_program(text) == tree
    assert unparse(parse_program(text)) == text


@pytest.mark.parametrize("text", [
    "x = -2 ^ 2", "x = (-2) ^ 2", "x = 2 ^ 3 ^ 2", "x = (2 ^ 3) ^ 2", "x = a - (b - c)",
    "x = a / (b * c)", "x = not (a or b)", "x = a crosses above b and c", "x = (if a then b else c) + 1",
    "x = -close[1]", "x = (close + 1)[2]", "x = macd(close).signal[1]", "x = close > open for 3 bars",
    "x = (a and b) for 2 bars", "param p = -2.5 in -5..5 step 0.5", "param q = 2% in [1%, 2%]",
])
def test_canonical_text_is_a_fixed_point(text: str) -> None:
    assert unparse(parse_program(text + "\n")) == text + "\n"
