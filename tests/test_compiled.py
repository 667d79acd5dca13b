"""The first-compile notice: said when numba has no cache for a kernel module, silent after."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from tradebot import compiled


NOTICE = "compiling tradebot's kernels for this machine"


def _run(script: Path, cache: Path) -> str:
    # A new interpreter with an empty numba cache of its own: a fresh installation.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-m", "tradebot", "run", str(script)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_notice_once_per_installation(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    first = tmp_path / "first.tbs"     # an indicator kernel module and the engine: one notice
    first.write_text("r = rsi(close, 14)\nenter long when r < 30\nexit long when r > 70\n")
    assert _run(first, cache).count(NOTICE) == 1
    later = tmp_path / "later.tbs"     # kernels of another module, on the same installation: none
    later.write_text("enter long when close > highest(high, 20)[1]\nexit long when close < lowest(low, 10)[1]\n")
    assert NOTICE not in _run(later, cache)
    assert list(cache.rglob("*windows*.nbi")), "the later script's kernels were compiled and cached"


def test_warm_up_imports_numba_off_the_main_thread_and_loads_kernels_lean() -> None:
    # A new interpreter: in this one another test may have loaded numba's registries already.
    code = ("import sys, threading\n"
            "from tradebot.compiled import warm_up_in_background\n"
            "thread = warm_up_in_background()\n"
            "assert thread is not threading.main_thread() and thread.daemon\n"
            "thread.join(timeout=120)\n"
            "assert not thread.is_alive()\n"
            "assert 'numba' in sys.modules, 'numba was not imported'\n"
            "from numba.core.caching import Cache\n"
            "assert getattr(Cache.load_overload, 'lean', False), 'the lean loader is not installed'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr


def test_kernels_loaded_lean_answer_as_freshly_compiled_ones(tmp_path: Path) -> None:
    """The first run compiles every kernel the script needs (numba's own path); the second loads
    them from the cache without numba's typing and lowering registries (which it never
    imports): the same report, to the digit."""
    cache = tmp_path / "numba-cache"
    script = tmp_path / "many.tbs"
    # Few kernels: the first run compiles each of them and the engine (minutes on a loaded machine).
    script.write_text("r = rsi(close, 14)\nenter long when r < 30\nexit long when r > 70 or close < lowest(low, 10)[1]\n")
    args = [sys.executable, "-X", "importtime", "-m", "tradebot", "run", str(script), "--json"]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    fresh, lean = (subprocess.run(args, capture_output=True, text=True, timeout=600, env=env) for _ in range(2))
    assert fresh.returncode == 0 and lean.returncode == 0, fresh.stderr + lean.stderr
    assert '"trades"' in fresh.stdout and fresh.stdout == lean.stdout
    assert "numba.np.arraymath" in fresh.stderr  # compiling loaded the registries
    assert "numba.np.arraymath" not in lean.stderr, "a cached kernel loaded numba's registries"
    # Rebuilding a cached kernel's environments imported numba's implementation modules by
    # importlib (which -X importtime does not list) and, through them, numba.np.linalg (which it does).
    assert "numba.np.linalg" not in lean.stderr, "a cached kernel's environments imported numba's modules"


def test_a_failing_warm_up_is_only_logged(monkeypatch, caplog) -> None:
    from numba.core.runtime import rtsys

    def broken(context) -> None:
        raise RuntimeError("no runtime today")

    monkeypatch.setattr(rtsys, "initialize", broken)
    with caplog.at_level(logging.DEBUG, logger="tradebot"):
        compiled.warm_up_in_background().join(timeout=60)
    assert [r.getMessage() for r in caplog.records] == ["numba warm-up failed"]
