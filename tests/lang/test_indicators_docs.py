"""docs/builtins.md is generated from the registry, and every builtin is documented and tested:

- the committed docs/builtins.md equals `python -m tradebot.lang.tooling.docgen` (run it with --write);
- every builtin has a doc sentence, an example that uses it, a warm-up and a source (the TA-Lib
  function or definition it follows);
- every builtin is exercised by a test that pins its values: a TA-Lib case in test_talib.CASES,
  or a hand-computed case in test_indicators_hand.py / test_signals_functions.py / test_mtf.py.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tradebot.lang.tooling import docgen
from tradebot.lang.builtins import REGISTRY

from . import test_talib

HERE = Path(__file__).resolve().parent
HAND_TESTS = ("test_indicators_hand.py", "test_signals_functions.py", "test_mtf.py", "test_calendar.py",
              "test_pine_indicators.py", "../runtime/test_position_state.py")


def test_committed_builtins_md_is_generated() -> None:
    committed = docgen.DOC_PATH.read_text(encoding="utf-8")
    assert committed == docgen.render(), "docs/builtins.md is stale: run python -m tradebot.lang.tooling.docgen --write"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_builtin_is_documented(name: str) -> None:
    builtin = REGISTRY[name]
    assert builtin.doc.strip(), f"{name} has no doc"
    assert re.search(rf"\b{name}\b", builtin.example), f"{name}'s example does not use it"
    assert builtin.warmup and builtin.source, f"{name} has no warm-up or source (its registration)"
    assert f"### `{name}`" in docgen.render() or f"| `{name}` |" in docgen.render()


def _names_in(text: str) -> set[str]:
    called = set(re.findall(r"\b([a-z_][a-z0-9_]*)\(", text))
    words = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b", text))
    return {n for n in REGISTRY if (n in called) or (REGISTRY[n].is_series and n in words)}


def exercised() -> dict[str, str]:
    """builtin -> where a test pins its values."""
    where: dict[str, str] = {}
    for expression in test_talib.CASES:
        for name in _names_in(expression):
            where.setdefault(name, f"test_talib.py: {expression}")
    for file in HAND_TESTS:
        for name in _names_in((HERE / file).read_text(encoding="utf-8")):
            where.setdefault(name, file)
    return where


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_builtin_is_tested(name: str) -> None:
    assert name in exercised(), (f"`{name}` has no test pinning its values: add a case to "
                                 f"tests/lang/test_talib.py CASES or a hand-computed one")


def test_docgen_check_mode(capsys) -> None:
    assert docgen.main(["--check"]) == 0


def test_readme_counts_the_builtins() -> None:
    readme = (HERE.parents[1] / "README.md").read_text(encoding="utf-8")
    counted = re.search(r"Builtins \((\d+),", readme)
    assert counted and int(counted.group(1)) == len(REGISTRY), "README.md's builtin count is stale"
