"""The fake exchange for the paper-trading tests (the data tests' helpers, beside them)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from bybit_testkit import FakeThread, market_config  # noqa: E402
from fake_bybit import FakeBybit  # noqa: E402


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeBybit]]:
    threads: list[FakeThread] = []

    def start(**overrides: Any) -> FakeBybit:
        thread = FakeThread(market_config(**overrides))
        threads.append(thread)
        return thread.__enter__()

    yield start
    for thread in threads:
        thread.__exit__()
