"""Fixtures of the REPL tests: a Repl on the bundled EUR/USD bars, and a stand-in multi-output
builtin (the registry's real ones are added by the indicator library; the REPL must not care)."""
from __future__ import annotations

import polars as pl
import pytest

from tradebot.config import Config
from tradebot.lang.builtin_spec import indicator, length, series
from tradebot.lang.builtins import REGISTRY
from tradebot.lang.types import record
from tradebot.pipeline import bundled_data_path, load_bars
from tradebot.repl.controller import Repl

FAKE_FIELDS = ("upper", "middle", "lower")


@pytest.fixture(scope="session")
def eurusd() -> pl.DataFrame:
    return load_bars(bundled_data_path())


@pytest.fixture
def repl(tmp_path, monkeypatch) -> Repl:
    monkeypatch.chdir(tmp_path)  # :save and relative paths land in the test's folder
    return Repl(config=Config(), width=lambda: 100)


@pytest.fixture
def bands(monkeypatch) -> str:
    """`tbands(src, length)`: mean ± 1, a three-field builtin registered for one test."""
    def lower(src, n):
        mean = src.rolling_mean(n)
        return {"upper": mean + 1.0, "middle": mean, "lower": mean - 1.0}

    builtin = indicator("tbands", (series(), length()), lower, lambda src, n: None,
                        doc="Test bands: the mean plus and minus one. Only for tests.",
                        example="tbands(close, 20).upper", category="test", returns=record(*FAKE_FIELDS))
    monkeypatch.setitem(REGISTRY, "tbands", builtin)
    return "tbands"
