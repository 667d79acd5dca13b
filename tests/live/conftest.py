"""The fake exchange for the paper-trading tests: the data tests' fixture and helpers."""
from __future__ import annotations

from tests.data.conftest import make_fake  # noqa: F401  (a fixture, registered by importing it)
