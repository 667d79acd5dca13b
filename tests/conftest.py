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
    if not hasattr(config, "workerinput"):  # the main process, before xdist starts its workers
        compile_kernels_once()


def compile_kernels_once() -> None:
    """Fill numba's cache before the tests start, in one process. On a fresh clone every test
    process and every `tradebot` subprocess a test starts would otherwise compile the same
    kernels at once (about a minute of CPU each), on 2 cores, and time out. With the cache warm
    these runs take a few seconds. Skipped when the engine's cache index exists (numba then
    recompiles only what changed, in whichever process needs it first)."""
    import subprocess
    import sys

    if next((ROOT / "tradebot" / "runtime" / "__pycache__").glob("kernel.*.nbi"), None) is not None:
        return
    for script in ("examples/chandelier.tbs", "examples/rotation.tbs"):
        subprocess.run([sys.executable, "-m", "tradebot", "run", str(ROOT / script)], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


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
