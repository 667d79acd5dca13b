"""The first-compile notice: said when numba has no cache for a kernel module, silent after."""
from __future__ import annotations

import logging
import subprocess
import sys
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


def test_warm_up_loads_numbas_registries_off_the_main_thread() -> None:
    # A new interpreter: in this one another test may have loaded them already.
    code = ("import sys, threading\n"
            "from tradebot.compiled import warm_up_in_background\n"
            "thread = warm_up_in_background()\n"
            "assert thread is not threading.main_thread() and thread.daemon\n"
            "thread.join(timeout=120)\n"
            "assert not thread.is_alive()\n"
            "assert 'numba.np.arraymath' in sys.modules, 'the CPU target was not loaded'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr


def test_a_failing_warm_up_is_only_logged(monkeypatch, caplog) -> None:
    from numba.core.registry import cpu_target

    def broken() -> None:
        raise RuntimeError("no CPU target today")

    monkeypatch.setattr(cpu_target.target_context, "refresh", broken)
    with caplog.at_level(logging.DEBUG, logger="tradebot"):
        compiled.warm_up_in_background().join(timeout=60)
    assert [r.getMessage() for r in caplog.records] == ["numba warm-up failed"]
