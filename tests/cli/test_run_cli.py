"""`tradebot run` and `tradebot check` end to end: every example, every output form, every class
of user error (with its exit code, its location, and never a traceback)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradebot.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.tbs"))


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_every_example_runs(script: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "run", str(script))
    assert code == 0
    assert "Total return" in out and "Sharpe" in out


def test_json_document(capsys) -> None:
    code, out, _ = run_cli(capsys, "run", str(ROOT / "examples/sma_cross.tbs"),
                           "--set", "fast=15", "--set", "slow=40", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["params"] == {"fast": 15, "slow": 40}
    assert {"settings", "params", "metrics", "trades"} <= doc.keys()
    assert {"all", "long", "short"} <= doc["metrics"].keys()
    trade = doc["trades"][0]
    for key in ("side", "entry_time", "entry_price", "exit_time", "exit_price", "qty", "fees", "pnl",
                "exit_reason"):
        assert key in trade
    # the final equity is the capital plus the trades' P&L
    assert doc["metrics"]["all"]["final_equity"] == pytest.approx(
        doc["settings"]["capital"] + sum(t["pnl"] for t in doc["trades"]), rel=1e-9)


def test_set_changes_the_result(capsys) -> None:
    script = str(ROOT / "examples/sma_cross.tbs")
    _, first, _ = run_cli(capsys, "run", script, "--json")
    _, second, _ = run_cli(capsys, "run", script, "--set", "fast=20", "--json")
    assert json.loads(first)["metrics"] != json.loads(second)["metrics"]


def test_out_directory(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(capsys, "run", str(ROOT / "examples/rsi.tbs"), "--data",
                           str(ROOT / "data/EURUSD_1h.csv"), "--out", str(tmp_path / "results"))
    assert code == 0 and "wrote" in err
    doc = json.loads((tmp_path / "results/result.json").read_text())
    with open(tmp_path / "results/trades.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(doc["trades"])
    with open(tmp_path / "results/equity.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 5000


def test_script_without_data_line_uses_bundled_data(capsys) -> None:
    _, out, _ = run_cli(capsys, "run", str(ROOT / "examples/breakout.tbs"), "--json")
    assert json.loads(out)["settings"]["data"].endswith("EURUSD_1h.csv")


def test_check_ok(capsys) -> None:
    code, out, _ = run_cli(capsys, "check", *map(str, EXAMPLES))
    assert code == 0 and out.count(": ok") == len(EXAMPLES)


def test_check_reports_every_error(tmp_path: Path, capsys) -> None:
    script = tmp_path / "bad.tbs"
    script.write_text("r = rsii(close, 14)\nfeee 1%\nenter long when r > 30\n")
    code, _, err = run_cli(capsys, "check", str(script))
    assert code == 2
    assert f"{script}:1:5: error: unknown function `rsii`" in err
    assert f"{script}:2:1: error: unknown setting `feee`" in err
    assert "    1 | r = rsii(close, 14)" in err and "^^^^" in err
    assert "did you mean `rsi`" in err and "2 errors" in err


def test_run_refuses_a_broken_script(tmp_path: Path, capsys) -> None:
    script = tmp_path / "bad.tbs"
    script.write_text("enter long close > open\n")
    code, out, err = run_cli(capsys, "run", str(script))
    assert code == 2 and out == ""
    assert "add `when`" in err


@pytest.mark.parametrize("flags, message", [
    (["--set", "nope=3"], "no param `nope`"),
    (["--set", "fst=3"], "did you mean `fast`"),
    (["--set", "fast=55"], "takes a whole number in 5..50 step 5"),
    (["--set", "fast=7"], "nearest allowed: fast=5 or fast=10"),  # inside the range, off the step
    (["--set", "fast=7.5"], "fast"),
    (["--set", "fast=abc"], "is not a number"),
    (["--set", "fast"], "expected NAME=VALUE"),
])
def test_overrides(flags: list[str], message: str | None, capsys) -> None:
    code, _, err = run_cli(capsys, "run", str(ROOT / "examples/sma_cross.tbs"), *flags)
    if message is None:
        assert code == 0
    else:
        assert code == 2 and message in err


def test_missing_script(capsys) -> None:
    code, _, err = run_cli(capsys, "run", "no/such/file.tbs")
    assert code == 2 and "no such script" in err


@pytest.mark.parametrize("content, row, field", [
    ("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
     "2024-01-01T01:00:00Z,1,2,0.5,abc,10\n", 3, "close"),
    ("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
     "2024-01-01T01:00:00Z,1,1.2,0.5,1.5,10\n", 3, "high"),
    ("timestamp,open,high,low,close,volume\n2024-01-01T01:00:00Z,1,2,0.5,1.5,10\n"
     "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n", 3, "timestamp"),
])
def test_bad_data_names_file_row_and_field(tmp_path: Path, content: str, row: int, field: str, capsys) -> None:
    data = tmp_path / "bars.csv"
    data.write_text(content)
    code, _, err = run_cli(capsys, "run", str(ROOT / "examples/rsi.tbs"), "--data", str(data))
    assert code == 3
    assert f"{data}:{row}" in err and field in err


def test_missing_data_file(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(capsys, "run", str(ROOT / "examples/rsi.tbs"), "--data", str(tmp_path / "nope.csv"))
    assert code == 3 and "nope.csv" in err


def test_unknown_flag_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", str(ROOT / "examples/rsi.tbs"), "--frobnicate"])
    assert caught.value.code == 2
    assert "unrecognized arguments: --frobnicate" in capsys.readouterr().err


def test_console_entry_point_in_a_new_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "tradebot", "run", str(ROOT / "examples/rsi.tbs"), "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["settings"]["strategy"] == "RSI mean reversion"
