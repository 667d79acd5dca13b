"""Tell the user when numba is about to compile a kernel instead of loading it from its cache.

The compiled kernels (the backtest engine, the recursive and windowed indicators) are cached on
disk (`@njit(cache=True)`), so only the first run after installing or upgrading pays for most of
the compilation — several seconds. Without a word, that first `make run` looks like a hang.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator

log = logging.getLogger("tradebot")
_NOTICE = "compiling tradebot's kernels for this machine (first run after installing only, a few seconds)"
_checked = False


def announce_first_compile(module: ModuleType) -> None:
    """Log the notice when this installation has no compiled kernel cached yet, once per process.

    Once per installation, not per kernel module: the first run compiles the indicators and the
    engine (two modules, one notice), and a later script that needs a kernel not compiled yet
    pays a fraction of a second, not worth a word. The cache folders are the ones numba itself
    chose for `module` (next to the source, NUMBA_CACHE_DIR, or the user-wide cache when the
    installation is read-only), applied to every folder of the package.
    """
    global _checked
    if _checked:
        return
    _checked = True
    if not any(next(folder.glob("*.nbi"), None) for folder in _cache_folders(module)):
        log.info(_NOTICE)


def _cache_folders(module: ModuleType) -> set[Path]:
    """Where numba keeps the caches of every tradebot source folder, by the locator it picked for
    `module`'s kernels (its private API; on any change, the in-tree `__pycache__` folders)."""
    package = Path(__file__).resolve().parent
    sources = {path.parent: path for path in package.rglob("*.py")}
    try:
        kernel = next(v for v in vars(module).values() if getattr(v, "_cache", None) is not None
                      and hasattr(v._cache, "_impl"))
        locator = type(kernel._cache._impl.locator)
        return {Path(locator(kernel.py_func, str(source)).get_cache_path()) for source in sources.values()}
    except Exception:  # noqa: BLE001 — a notice only; never let it break a run
        return {folder / "__pycache__" for folder in sources}


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
