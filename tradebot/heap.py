"""Keeping freed memory in the process for the next trial of a sweep (glibc's malloc only).

Every trial of a sweep allocates the same arrays again: the engine's equity, position and drawdown
columns, its trade records, the metrics' scratch (about 3 MB a trial on 100k bars). glibc's malloc
hands a block larger than its mmap threshold (128 kB at first) straight back to the kernel when it
is freed, and trims the heap's top once more than its trim threshold is free, so the next trial
faults its pages in again, each one zeroed by the kernel: 15,000 page faults and about a sixth of
a 100k-bar SMA sweep's time (docs/benchmarks.md). Raising both thresholds keeps those pages in the
process: the next trial's arrays reuse them. The peak stays what the trials need at once; only
memory already freed is kept (up to `TRIM_THRESHOLD` at the heap's top) instead of returned.

Other allocators (Windows', macOS', musl) are left as they are: this is a speed-up, not a need.
Polars allocates through its own allocator and is not affected.
"""
from __future__ import annotations

import ctypes
import functools
import platform

# mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# glibc's largest allowed mmap threshold on 64-bit (HEAP_MAX_SIZE / 2): blocks up to 32 MiB (a
# 4M-bar float column) come from the heap and are reused.
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 128 * 2**20


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; False where malloc is not glibc's
    (nothing changed)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; either call failing leaves malloc's own (working) behaviour.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
