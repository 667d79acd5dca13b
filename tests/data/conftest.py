"""Fixtures for the data layer: a fake Bybit in a background thread (see bybit_testkit.py)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

# The helpers live beside this file; importlib import mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from bybit_testkit import FakeThread, market_config  # noqa: E402
from fake_bybit import FakeBybit  # noqa: E402


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    with FakeThread(market_config()) as server:
        yield server


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeBybit]]:
    """Start a fake with custom FakeConfig fields: `make_fake(speed=600, ...)`."""
    threads: list[FakeThread] = []

    def start(**overrides: Any) -> FakeBybit:
        thread = FakeThread(market_config(**overrides))
        threads.append(thread)
        return thread.__enter__()

    yield start
    for thread in threads:
        thread.__exit__()


