"""Helpers for the CLI tests: run a command in process, write a script."""
from __future__ import annotations

from pathlib import Path

from tradebot.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data/EURUSD_1h.csv"  # hourly EUR/USD, 5,000 bars, prices 1.068 to 1.254


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `tradebot ARGV`; never a traceback."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def script(tmp_path: Path, text: str, name: str = "s.tbs") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)
