"""Shared test options and fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests.oracle_guard import OracleGuard, oracles_required

ROOT = Path(__file__).resolve().parents[1]

# Hypothesis explores new examples on every local run. The landing gate (.ci/run sets
# HYPOTHESIS_PROFILE=ci) replays a fixed sequence instead, so its verdict on a commit does not
# depend on luck; a counterexample found locally is printed with its reproduction blob.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config: pytest.Config) -> None:
    # In CI a skipped oracle module (TA-Lib, backtesting.py, vectorbt, PostgreSQL, tmux, node) fails.
    if oracles_required(os.environ):
        config.pluginmanager.register(OracleGuard(), "oracle-guard")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite golden files from the current output instead of comparing")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def eurusd_path() -> Path:
    return ROOT / "data" / "EURUSD_1h.csv"
