"""Tell the user when numba is about to compile a kernel instead of loading it from its cache.

The compiled kernels (the backtest engine, the recursive and windowed indicators) are cached on
disk (`@njit(cache=True)`), so only the first run after installing or upgrading pays for most of
the compilation — about 40 seconds on a 2-core machine. Without a word, that first `make run` looks like a hang.
"""
from __future__ import annotations

import logging
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator

log = logging.getLogger("tradebot")
_NOTICE = "compiling tradebot's kernels for this machine (first run after installing only, under a minute)"
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
    """Start importing numba on a background thread, and let it load cached kernels lean.

    numba's own loading of a cached kernel first imports its whole library of typing and lowering
    registries (`BaseContext.refresh`: 0.4-0.55 s of CPU, holding the GIL, a third of a
    million-bar `tradebot run`), which running machine code read from the cache never uses:
    `load_cached_kernels_lean` skips it. What is left, numba's import (0.3 s), runs here while
    the main thread reads the CSV and evaluates the plan in Polars, which release the GIL. The
    import runs under numba's compiler lock, which its dispatchers take too, so a kernel the main
    thread calls meanwhile simply waits for it. A failure here is ignored: the real call raises
    it again, with its context.
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
        load_cached_kernels_lean()
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.registry import cpu_target
        from numba.core.runtime import rtsys

        with global_compiler_lock:
            rtsys.initialize(cpu_target.target_context)
    except Exception:  # noqa: BLE001 — an optimisation only; see the docstring
        log.debug("numba warm-up failed", exc_info=True)


def load_cached_kernels_lean() -> None:
    """Make numba load a cached kernel without importing its registries first.

    `Cache.load_overload` (numba 0.60-0.68) refreshes the target context before reading the
    cache: it imports every typing and lowering registry numba has (and, where SciPy is
    installed, SciPy's BLAS), which only compiling needs, then initializes the runtime that
    the kernels allocate their arrays with. Rebuilding a cached kernel needs the runtime and the
    code generator alone, so the replacement does just that; a kernel that is not cached
    compiles as before, and numba's compiler refreshes the context itself then. Should numba's
    private names change, numba is left as it is (only slower)."""
    from numba.core import caching

    cache = caching.Cache
    if getattr(cache.load_overload, "lean", False) or not all(
            hasattr(cache, name) for name in ("_load_overload", "_guard_against_spurious_io_errors")):
        return

    def load_overload(self, sig, target_context):
        from numba.core.runtime import rtsys

        rtsys.initialize(target_context)  # no-op after the first time
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)
        return None  # the guard swallowed an I/O error: a miss, as in numba

    load_overload.lean = True
    cache.load_overload = load_overload
    _rebuild_environments_lean()


def _rebuild_environments_lean() -> None:
    """Rebuild a cached kernel's environments without importing numba's implementation modules.

    Every function compiled into a kernel carries an environment whose globals are its module's
    namespace, and unpickling one imports that module: for numba's own implementations of
    `np.empty` or `ndarray.sum` (inlined into our kernels) that is numba.np.arrayobj and
    numba.np.arraymath, which import much of numba's registries and probe SciPy's BLAS at import
    (0.3-0.6 s of CPU under the GIL). Only object-mode code reads those globals; numba's own
    implementations are nopython code, which never does. So an environment of a numba module
    not imported yet gets a namespace holding just its name (what numba checks to call it
    cacheable); our own modules, and numba modules already imported, are rebuilt as numba does."""
    from numba.core import environment

    rebuild = getattr(environment, "_rebuild_env", None)
    if rebuild is None or getattr(rebuild, "lean", False) or not hasattr(environment, "lookup_environment"):
        return

    def rebuild_env(modname, consts, env_name):
        if environment.lookup_environment(env_name) is None and isinstance(modname, str) \
                and modname.startswith("numba.") and modname not in sys.modules:
            env = environment.Environment({"__name__": modname})
            env.consts[:] = consts
            env.env_name = env_name
            environment.Environment._memo[env_name] = env
            return env
        return rebuild(modname, consts, env_name)

    rebuild_env.lean = True
    environment._rebuild_env = rebuild_env
