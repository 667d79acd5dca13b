"""The registry is the single source of truth: every builtin is documented, has an example that
compiles, and every setting has an example that checks."""
from __future__ import annotations

import pytest

from tradebot.lang.builtins import REGISTRY
from tradebot.lang.settings import SETTINGS
from tradebot.pipeline import compile_source


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_builtin_has_doc_and_compiling_example(name: str) -> None:
    builtin = REGISTRY[name]
    assert builtin.doc.strip().endswith((".", ")")), f"{name}: doc should be a sentence"
    assert name in builtin.example
    source = f"x = {builtin.example}\n" if "<" not in builtin.example and ">" not in builtin.example \
        else f"enter long when {builtin.example}\n"
    compile_source(source, f"{name}.tbs")


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_setting_example_checks(name: str) -> None:
    compile_source(SETTINGS[name].example + "\n", f"{name}.tbs")
