"""Flags checked before anything runs: `--set` values against the param's declaration, `--out`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tradebot.cli import main
from tradebot.cli.flags import parse_overrides
from tradebot.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """param fast = 10 in 5..50 step 5
param sl = 0.5% in 0.25%..1.5% step 0.25%
param k = 0.3 in 0.1..0.9 step 0.1
stop_loss sl
enter long when close > sma(close, fast) + k * 0
exit long when close < sma(close, fast)
"""


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "steps.tbs"
    path.write_text(SCRIPT)
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize("flag, nearest", [
    ("fast=13", "nearest allowed: fast=10 or fast=15"),
    ("fast=500", "nearest allowed: fast=50"),
    ("fast=1", "nearest allowed: fast=5"),
    ("sl=0.3%", "nearest allowed: sl=0.25% or sl=0.5%"),
    ("k=0.35", "nearest allowed: k=0.3 or k=0.4"),
])
def test_a_value_off_the_step_is_refused_with_its_neighbours(script: str, flag: str, nearest: str, capsys) -> None:
    code, out, err = run(capsys, "run", script, "--set", flag, "--json")
    assert code == 2 and out == ""
    assert "step" in err and nearest in err


@pytest.mark.parametrize("flag, value", [("fast=15", 15), ("sl=0.75%", 0.0075), ("k=0.7", 0.7), ("fast=50", 50)])
def test_a_value_on_the_step_is_used(script: str, flag: str, value: float, capsys) -> None:
    # 0.7 is 0.1 + 6 * 0.1 only up to binary rounding: still on the grid, as the optimizer's sweep says.
    code, out, _ = run(capsys, "run", script, "--set", flag, "--json")
    assert code == 0
    name = flag.split("=")[0]
    assert json.loads(out)["params"][name] == pytest.approx(value)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN", "1e400", "nan%"])
def test_a_non_finite_value_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="not a finite number"):
        parse_overrides([f"n={text}"])


def test_non_finite_value_on_an_integer_param_is_a_clear_error(script: str, capsys) -> None:
    code, _, err = run(capsys, "run", script, "--set", "fast=nan")
    assert code == 2 and "--set fast=nan" in err and "not a finite number" in err


def test_percentages_and_underscores(tmp_path: Path) -> None:
    assert parse_overrides(["sl=0.5%", "n=1_000"]) == {"sl": pytest.approx(0.005), "n": 1000.0}


def test_out_naming_an_existing_file_is_refused_before_the_run(script: str, tmp_path: Path, capsys) -> None:
    existing = tmp_path / "results.txt"
    existing.write_text("keep me")
    code, out, err = run(capsys, "run", script, "--out", str(existing))
    assert code == 2 and out == ""
    assert "this is a file" in err and existing.read_text() == "keep me"


def test_out_inside_a_file_cannot_be_created(script: str, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "plain"
    blocker.write_text("")
    code, out, err = run(capsys, "run", script, "--out", str(blocker / "sub" / "results"))
    assert code == 2 and out == "" and "which is a file" in err


def test_out_with_a_nul_byte_is_a_usage_error(script: str, capsys) -> None:
    code, _, err = run(capsys, "run", script, "--out", "res\0ults")
    assert code == 2 and "not a usable path" in err


def test_out_creates_missing_folders(script: str, tmp_path: Path, capsys) -> None:
    code, _, _ = run(capsys, "run", script, "--out", str(tmp_path / "a" / "b"))
    assert code == 0 and (tmp_path / "a" / "b" / "result.json").is_file()


def test_eval_out_naming_a_folder_or_a_missing_folder_is_refused(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "eval", "sma(close, 5)", "--out", str(tmp_path))
    assert code == 2 and "this is a folder" in err
    code, _, err = run(capsys, "eval", "sma(close, 5)", "--out", str(tmp_path / "no" / "x.csv"))
    assert code == 2 and "does not exist" in err
