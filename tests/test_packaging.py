"""The wheel carries what an installed tradebot needs: the grammar and the bundled data."""
from __future__ import annotations

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
    wheel = next(tmp_path.glob("tradebot-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tradebot/grammar/tbs.lark" in names
    assert "tradebot/bundled/EURUSD_1h.csv" in names
    assert "tradebot/lang/library/trend.py" in names
    assert {"tradebot/charts/vendor/echarts.min.js", "tradebot/charts/vendor/ECHARTS-LICENSE",
            "tradebot/charts/assets/report.js", "tradebot/report/html.py"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "tradebot = tradebot.__main__:run" in text


def test_grammar_and_bundled_data_load_through_the_package() -> None:
    from tradebot.lang.grammar import grammar_text
    from tradebot.pipeline import bundled_data_path

    assert "statement" in grammar_text()
    assert bundled_data_path().is_file()
