"""The first-compile notice: said when numba has no cache for a kernel module, silent after."""
from __future__ import annotations

import logging
from pathlib import Path

from tradebot import compiled


def test_notice_only_without_a_cache_index(tmp_path: Path, caplog) -> None:
    module = tmp_path / "kern.py"
    module.write_text("# a kernel module\n")
    with caplog.at_level(logging.INFO, logger="tradebot"):
        compiled.announce_first_compile(str(module), "the test kernel")
        compiled.announce_first_compile(str(module), "the test kernel")  # once per process
    assert [r.getMessage() for r in caplog.records].count(
        "compiling the test kernel for this machine (first run only, a few seconds; cached afterwards)") == 1

    cached = tmp_path / "other.py"
    cached.write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "other.simulate-10.py311.nbi").write_bytes(b"")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tradebot"):
        compiled.announce_first_compile(str(cached), "a cached kernel")
    assert not caplog.records
