"""Shared fixtures for the optimizer tests: a small slice of the bundled EURUSD data and scripts."""
from __future__ import annotations

import os
import time
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[2]
EURUSD = REPO / "data" / "EURUSD_1h.csv"

SMA = """strategy "SMA cross"
capital 10_000
fee 0.02%
slippage 0.005%

param fast = 10 in 5..25 step 5
param slow = 30 in 20..60 step 10

fast_ma = sma(close, fast)
slow_ma = sma(close, slow)

enter long  when fast_ma crosses above slow_ma
enter short when fast_ma crosses below slow_ma
"""

RSI = """strategy "RSI"
fee 0.05%

param length = 14 in 6..18 step 4
param lower = 30 in 20..40 step 10
param upper = 70 in 60..80 step 10

r = rsi(close, length)
enter long  when r crosses above lower
exit  long  when r crosses above upper
enter short when r crosses below upper
exit  short when r crosses below lower
"""


def child_env() -> dict[str, str]:
    """The environment of a `python -m tradebot` child: this checkout first on its path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 1,500 bars of the bundled data (fast, and still hundreds of trades per sweep)."""
    path = tmp_path_factory.mktemp("data") / "eurusd_small.csv"
    pl.read_csv(EURUSD).head(1500).write_csv(path)
    return path


def wait_for(condition, what: str, timeout: float = 120.0):
    """Poll `condition` until it is truthy (returned), failing after `timeout` s: never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def write_script(directory: Path, body: str, optimize: str, name: str = "strategy.tbs") -> Path:
    path = directory / name
    path.write_text(body + "\n" + optimize + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of the tests' own on loopback (see tests/optimize/postgres.py)."""
    from .postgres import PostgresServer, why_unavailable

    reason = why_unavailable()
    if reason:
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path) -> str:
    """A new, empty study storage URL: a SQLite file, or a database on the tests' PostgreSQL."""
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "studies.db")
    return request.getfixturevalue("postgres").new_database()
