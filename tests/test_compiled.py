"""Compiled code on a fresh installation: the first-compile notice (said when numba has no cache
for a kernel module, silent after), kernels loaded lean from the cache, and new scripts that bring
no new machine code."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tradebot import compiled


NOTICE = "compiling tradebot's kernels for this machine"
ROOT = Path(__file__).resolve().parents[1]

# A script whose kernels come from a few modules (an indicator module, a window module, the
# engine): compiling them in an empty cache takes about 50 s on 2 cores, so the tests below share
# one such compile (a copy of its cache each) instead of paying it three times.
FIRST = "r = rsi(close, 14)\nenter long when r < 30\nexit long when r > 70 or close < lowest(low, 10)[1]\n"


@dataclass(frozen=True)
class Installation:
    """A fresh installation's first run: its script, its numba cache (copied before use) and its
    output."""
    script: Path
    cache: Path
    first: subprocess.CompletedProcess

    def copy(self, into: Path) -> Path:
        shutil.copytree(self.cache, into)
        return into


def _run(script: Path, cache: Path, *args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    # A new interpreter with a numba cache of its own (empty: a fresh installation).
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    command = [sys.executable, *(["-X", "importtime"] if importtime else []),
               "-m", "tradebot", "run", str(script), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Installation:
    folder = tmp_path_factory.mktemp("installation")
    script = folder / "first.tbs"
    script.write_text(FIRST, encoding="utf-8")
    cache = folder / "numba-cache"
    return Installation(script, cache, _run(script, cache, "--json", importtime=True))


def test_notice_once_per_installation(installation: Installation, tmp_path: Path) -> None:
    assert installation.first.stderr.count(NOTICE) == 1
    cache = installation.copy(tmp_path / "numba-cache")
    later = tmp_path / "later.tbs"     # kernels of another module, on the same installation: none
    later.write_text("enter long when close > ema(close, 50)\nexit long when close < ema(close, 20)\n")
    assert not list(cache.rglob("kernels.ema-*.nbi"))
    assert NOTICE not in _run(later, cache).stderr
    assert list(cache.rglob("kernels.ema-*.nbi")), "the later script's kernels were compiled and cached"


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


def test_kernels_loaded_lean_answer_as_freshly_compiled_ones(installation: Installation, tmp_path: Path) -> None:
    """The first run compiles every kernel the script needs (numba's own path); the second loads
    them from the cache without numba's typing and lowering registries (which it never
    imports): the same report, to the digit."""
    fresh = installation.first
    lean = _run(installation.script, installation.copy(tmp_path / "numba-cache"), "--json", importtime=True)
    assert '"trades"' in fresh.stdout and fresh.stdout == lean.stdout
    assert "numba.np.arraymath" in fresh.stderr  # compiling loaded the registries
    assert "numba.np.arraymath" not in lean.stderr, "a cached kernel loaded numba's registries"
    # Rebuilding a cached kernel's environments imported numba's implementation modules by
    # importlib (which -X importtime does not list) and, through them, numba.np.linalg (which it does).
    assert "numba.np.linalg" not in lean.stderr, "a cached kernel's environments imported numba's modules"


def test_a_second_script_with_position_state_adds_no_compiled_code(installation: Installation,
                                                                   tmp_path: Path) -> None:
    """A new script brings bytecode, never machine code: after one script reading position state
    has run, another one (other values, a recursion, a moving stop) adds nothing to numba's cache."""
    cache = installation.copy(tmp_path / "cache")

    def run_script(text: str) -> list[str]:
        script = tmp_path / "s.tbs"
        script.write_text(text, encoding="utf-8")
        _run(script, cache)
        return sorted(str(p.relative_to(cache)) for p in cache.rglob("*.nb*"))

    first = run_script("enter long when close > highest(high, 20)[1]\n"
                       "exit long when close < highest_since_entry(high) - 3 * atr(22)\n")
    assert any("kernel" in name for name in first)
    second = run_script("n = if position_side == 0 then 0 else n[1] + 1 starting 0\n"
                        "stop_loss long at entry_price - 2 * atr(14)\n"
                        "enter long when close > highest(high, 20)[1] and bars_since_exit > 3\n"
                        "exit long when n >= 48 and open_profit_pct < 0.5% or open_profit crosses below 0\n")
    assert second == first


def test_a_failing_warm_up_is_only_logged(monkeypatch, caplog) -> None:
    from numba.core.runtime import rtsys

    def broken(context) -> None:
        raise RuntimeError("no runtime today")

    monkeypatch.setattr(rtsys, "initialize", broken)
    with caplog.at_level(logging.DEBUG, logger="tradebot"):
        compiled.warm_up_in_background().join(timeout=60)
    assert [r.getMessage() for r in caplog.records] == ["numba warm-up failed"]
