"""The tests' own machinery: the golden-file helper and the CI guard that fails a skipped oracle."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.golden import compare_golden
from tests.oracle_guard import ORACLE_MODULES, oracles_required

ROOT = Path(__file__).resolve().parents[1]


def test_a_golden_is_written_with_lf_newlines_and_compared(tmp_path: Path) -> None:
    golden = tmp_path / "x.out"
    with pytest.raises(pytest.fail.Exception, match="did not exist"):
        compare_golden(golden, "a\nb\n", update=False)
    assert golden.read_bytes() == b"a\nb\n"
    compare_golden(golden, "a\nb\n", update=False)
    with pytest.raises(AssertionError, match="--update-goldens"):
        compare_golden(golden, "a\nc\n", update=False)
    compare_golden(golden, "a\nc\n", update=True)
    assert golden.read_bytes() == b"a\nc\n"


def test_ci_is_recognised_from_the_environment() -> None:
    assert oracles_required({"CI": "true"}) and oracles_required({"CI": "1"})
    assert not oracles_required({}) and not oracles_required({"CI": "false"})


def test_every_listed_oracle_module_exists() -> None:
    missing = [path for path in ORACLE_MODULES if not (ROOT / path).is_file()]
    assert not missing


PROJECT = {
    "conftest.py": f"""
        import os, sys
        import pytest
        sys.path.insert(0, {str(ROOT)!r})
        from tests.oracle_guard import OracleGuard, oracles_required

        def pytest_configure(config):
            if oracles_required(os.environ):
                config.pluginmanager.register(
                    OracleGuard({{"test_oracle.py": "the oracle", "test_absent.py": "a package"}},
                                {{"server": "a server"}}), "oracle-guard")

        @pytest.fixture
        def server():
            pytest.skip("no server here")
    """,
    "test_oracle.py": """
        import pytest

        def test_cannot_run():
            pytest.skip("the oracle is not installed")

        @pytest.mark.skipif(True, reason="not on this platform")
        def test_platform():
            pass

        @pytest.mark.xfail(reason="known", strict=True)
        def test_known():
            assert False

        def test_runs():
            pass
    """,
    "test_absent.py": """
        import pytest
        pytest.importorskip("a_package_that_is_not_installed")

        def test_never():
            pass
    """,
    "test_other.py": """
        import pytest

        def test_plain_skip():
            pytest.skip("not an oracle")

        def test_needs_the_server(server):
            pass
    """,
}


def outcomes(tmp_path: Path, *, ci: bool) -> tuple[dict[str, str], int]:
    """Run the small project above: ({test name: passed | failed | skipped | error}, exit code)."""
    for name, text in PROJECT.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    report = tmp_path / "report.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
                    f"--junitxml={report}", "--continue-on-collection-errors", "-q", str(tmp_path)],
                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    result = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        result[case.get("name")] = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(
            kinds[0] if kinds else "", "passed")
    return result, done.returncode


def test_outside_ci_a_missing_oracle_skips(tmp_path: Path) -> None:
    assert outcomes(tmp_path, ci=False) == ({
        "test_cannot_run": "skipped", "test_platform": "skipped", "test_known": "skipped",
        "test_runs": "passed", "test_absent": "skipped", "test_plain_skip": "skipped",
        "test_needs_the_server": "skipped"}, 0)


def test_in_ci_a_missing_oracle_fails_but_marks_and_other_skips_stay(tmp_path: Path) -> None:
    # (A skip in a fixture fails the test's setup, which pytest reports as an error.)
    assert outcomes(tmp_path, ci=True) == ({
        "test_cannot_run": "failed", "test_platform": "skipped", "test_known": "skipped",
        "test_runs": "passed", "test_absent": "error", "test_plain_skip": "skipped",
        "test_needs_the_server": "error"}, 1)
