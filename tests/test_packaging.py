"""The wheel carries what an installed tradebot needs: the grammar and the bundled data."""
from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_grammar_and_bundled_data(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "deprecat" not in proc.stderr.lower(), proc.stderr  # quiet unless something is wrong
    wheel = next(tmp_path.glob("tradebot-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tradebot/grammar/tbs.lark" in names
    assert "tradebot/bundled/EURUSD_1h.csv" in names
    assert "tradebot/lang/library/trend.py" in names
    assert {"tradebot/charts/vendor/echarts.min.js", "tradebot/charts/vendor/ECHARTS-LICENSE",
            "tradebot/charts/assets/report.js", "tradebot/report/html.py"} <= names
    assert {"tradebot/dashboard/server.py", "tradebot/dashboard/assets/dashboard.js",
            "tradebot/dashboard/assets/dashboard.css"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "tradebot = tradebot.__main__:run" in text


def test_grammar_and_bundled_data_load_through_the_package() -> None:
    from tradebot.lang.grammar import grammar_text
    from tradebot.pipeline import bundled_data_path

    assert "statement" in grammar_text()
    assert bundled_data_path().is_file()


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_license_is_an_spdx_string_not_a_deprecated_table() -> None:
    # A table makes setuptools print a deprecation box on every install (`make run` showed it twice).
    project = _pyproject()["project"]
    assert isinstance(project.get("license", ""), str)


def test_description_promises_nothing_the_package_cannot_do() -> None:
    # There is no live or paper trading command: the description and docstring must not say so.
    import tradebot

    texts = [_pyproject()["project"]["description"], tradebot.__doc__ or ""]
    for text in texts:
        assert "live" not in text.lower() and "paper" not in text.lower(), text


def test_make_run_installs_the_runtime_only_and_make_test_the_extras() -> None:
    # `make run` must not pull in the test oracles (a 1.2 GB venv); `make test` needs them.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rules = {line.split(":")[0]: line.split(":", 1)[1].split() for line in makefile.splitlines()
             if line and not line[0].isspace() and ":" in line and "=" not in line.split(":")[0]}
    runtime = makefile.split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]  # the rule and its recipe
    assert ".[test]" not in runtime and re.search(r"install .*-e \.\n", runtime)
    assert "$(TEST_STAMP)" in rules["test"] and "$(TEST_STAMP)" not in rules["run"]
    assert "$(STAMP)" in rules["run"]


def test_runtime_dependencies_exclude_what_tradebot_never_imports() -> None:
    # pandas (80 MB) was a runtime dependency that only the test oracles use.
    names = {dep.split(">")[0].split("[")[0].split(";")[0].strip() for dep in _pyproject()["project"]["dependencies"]}
    imported = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tradebot").rglob("*.py"))
    assert "pandas" not in names
    assert "import pandas" not in imported and "from pandas" not in imported
