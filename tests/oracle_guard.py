"""In CI, an oracle module that cannot run fails instead of skipping.

The strongest checks need programs or packages a machine may lack (TA-Lib, backtesting.py,
vectorbt, PostgreSQL, tmux, node). Locally a missing one skips with its reason; in CI (`CI=true`,
set by .ci/run and by most CI services) the same skip becomes a failure, so CI never loses those
checks without anyone noticing. A skip from a `skip`/`skipif` mark (a platform the test does not
apply to) and an expected failure stay as they are.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

# Test modules whose every test is an oracle check, by path from the repository root -> what they need.
ORACLE_MODULES: Mapping[str, str] = {
    "tests/lang/test_talib.py": "TA-Lib",
    "tests/repl/test_values.py": "TA-Lib",
    "tests/runtime/test_backtesting_oracle.py": "backtesting.py",
    "tests/runtime/test_backtesting_risk_oracle.py": "backtesting.py",
    "tests/runtime/test_vectorbt_oracle.py": "vectorbt",
    "tests/optimize/test_study.py": "PostgreSQL (psycopg)",
    "tests/repl/test_terminal.py": "tmux",
    "tests/highlight/test_textmate.py": "node (vscode-textmate)",
}
# Fixtures that provide an oracle to tests in any module -> what they need.
ORACLE_FIXTURES: Mapping[str, str] = {"postgres": "PostgreSQL",
                                     "browser": "chromium and Playwright (the HTML report's browser tests)"}


def oracles_required(environ: Mapping[str, str]) -> bool:
    """Whether this run is CI, where a skipped oracle is a failure."""
    return environ.get("CI", "").strip().lower() in ("1", "true", "yes")


class OracleGuard:
    """A pytest plugin turning skips of oracle tests (and of oracle modules at import) into failures."""

    def __init__(self, modules: Mapping[str, str] = ORACLE_MODULES,
                 fixtures: Mapping[str, str] = ORACLE_FIXTURES) -> None:
        self.modules, self.fixtures = modules, fixtures

    def _module_oracle(self, path: Path, root: Path) -> str | None:
        try:
            return self.modules.get(path.resolve().relative_to(root.resolve()).as_posix())
        except ValueError:  # outside the root
            return None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        if not report.skipped or hasattr(report, "wasxfail") or _skipped_by_mark(item):
            return
        oracle = self._module_oracle(item.path, item.config.rootpath) or next(
            (need for name, need in self.fixtures.items() if name in getattr(item, "fixturenames", ())), None)
        if oracle is not None:
            _fail(report, oracle)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector):
        outcome = yield
        report = outcome.get_result()
        if report.skipped and isinstance(collector, pytest.Module):
            oracle = self._module_oracle(collector.path, collector.config.rootpath)
            if oracle is not None:
                _fail(report, oracle)


def _skipped_by_mark(item: pytest.Item) -> bool:
    return any(True for _ in item.iter_markers("skip")) or any(True for _ in item.iter_markers("skipif"))


def _fail(report, oracle: str) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"an oracle check could not run in CI ({oracle} is needed): {reason}\n"
                       "install it, or run outside CI (CI unset) to skip it")
