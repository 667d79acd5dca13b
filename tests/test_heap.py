"""heap.keep_freed_memory: a freed trial's pages are reused by the next trial, not faulted in again.

Measured in fresh processes (this one's malloc thresholds depend on what earlier tests freed):
the same loop of trial-sized allocations, with and without the call, counting page faults.
"""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from tradebot.heap import keep_freed_memory

# 40 "trials", each allocating and touching three 800 kB columns (100k float64 bars), as the
# engine does, then freeing them.
_TRIALS = """
import resource, numpy as np
from tradebot.heap import keep_freed_memory
if {keep}:
    assert keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    columns = [np.ones(100_000) for _ in range(3)]
    del columns
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def _faults(keep: bool) -> int:
    done = subprocess.run([sys.executable, "-c", _TRIALS.format(keep=keep)], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not _GLIBC, reason="tunes glibc's malloc; elsewhere it changes nothing")
def test_freed_trial_pages_are_reused():
    pages_per_trial = 3 * 100_000 * 8 // 4096
    # Without it, every trial after the first faults its three columns in again (the first 800 kB
    # block freed raises glibc's own threshold only to that size; the heap's top is then trimmed).
    assert _faults(keep=False) > 10 * pages_per_trial
    # With it, only the first trial's pages are new.
    assert _faults(keep=True) < 3 * pages_per_trial


def test_other_allocators_are_left_alone(monkeypatch):
    keep_freed_memory.cache_clear()
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    try:
        assert keep_freed_memory() is False
    finally:
        keep_freed_memory.cache_clear()
