"""Tell the user when numba is about to compile a kernel instead of loading it from its cache.

The compiled kernels (the backtest engine, the recursive and windowed indicators) are cached on
disk (`@njit(cache=True)`), so only the first run after installing or upgrading pays for the
compilation — several seconds. Without a word, that first `make run` looks like a hang.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
import os
from pathlib import Path
from typing import Iterator

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


def warm_up_in_background() -> threading.Thread:
    """Start importing numba and loading its CPU target on a background thread.

    Loading a cached kernel first makes numba import its whole library of typing and lowering
    registries (about half a second on a million-bar `tradebot run`, a third of the run). That
    work holds the GIL, but the work the main thread does meanwhile — Polars reading the CSV and
    evaluating the plan — releases it, so the two overlap instead of adding up. The registries
    are loaded under numba's own compiler lock, the lock its dispatchers take for the same
    step, so a kernel the main thread calls meanwhile simply waits for it. A failure here is
    ignored: the real call raises it again, with its context.
    """
    thread = threading.Thread(target=_load_numba_target, name="numba-warm-up", daemon=True)
    thread.start()
    return thread


@contextmanager
def numba_warming_up() -> Iterator[None]:
    """`warm_up_in_background` for the duration of a block, joined at its end so the thread is
    never left importing while the interpreter shuts down."""
    thread = warm_up_in_background()
    try:
        yield
    finally:
        thread.join()


def _load_numba_target() -> None:
    try:
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.registry import cpu_target

        with global_compiler_lock:
            cpu_target.target_context.refresh()
    except Exception:  # noqa: BLE001 — an optimisation only; see the docstring
        log.debug("numba warm-up failed", exc_info=True)
