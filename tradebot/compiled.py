"""Tell the user when numba is about to compile a kernel instead of loading it from its cache.

The compiled kernels (the backtest engine, the recursive and windowed indicators) are cached on
disk (`@njit(cache=True)`), so only the first run after installing or upgrading pays for the
compilation — several seconds. Without a word, that first `make run` looks like a hang.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("tradebot")
_announced: set[str] = set()


def announce_first_compile(module_file: str, what: str) -> None:
    """Log once per process when `module_file` has no numba cache index yet."""
    if module_file in _announced:
        return
    _announced.add(module_file)
    source = Path(module_file)
    folders = [source.parent / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        folders.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    if not any(next(folder.rglob(f"{source.stem}.*.nbi"), None) for folder in folders if folder.is_dir()):
        log.info("compiling %s for this machine (first run only, a few seconds; cached afterwards)", what)
