"""`tradebot run` on a universe: the summary, --out, and every class of bad universe input."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.cli.support import ROOT, run, script

ROTATION = ROOT / "examples/rotation.tbs"
HEADER = "timestamp,open,high,low,close,volume\n"



def test_rotation_prints_account_symbols_and_trades_with_their_symbol(tmp_path, capsys):
    code, out, _ = run(capsys, "run", str(ROTATION), "--out", str(tmp_path / "out"))
    assert code == 0
    assert "Per symbol:" in out and "Correlation of the symbols' bar returns:" in out
    assert "Most positions held" in out
    with open(tmp_path / "out/trades.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["symbol"] for row in rows} <= {"GENA", "GENB", "GENC", "GEND", "GENE"}
    assert len({row["symbol"] for row in rows}) > 1
    document = json.loads((tmp_path / "out/result.json").read_text())
    # The account's P&L is the sum of its trades' P&L (everything is closed at the end).
    assert abs(document["metrics"]["all"]["net_pnl"]
               - sum(float(row["pnl"]) for row in rows)) < 1e-6
    assert document["metrics"]["all"]["max_positions_held"] <= 3
    with open(tmp_path / "out/symbol_equity.csv") as handle:
        assert next(csv.reader(handle)) == ["timestamp", "symbol", "position", "pnl"]


def universe_script(tmp_path: Path, pattern: str, extra: str = "") -> str:
    return script(tmp_path, f'universe "{pattern}"\n{extra}enter long when close > open\n'
                  "exit long when close < open\n")


def test_a_universe_matching_no_file_points_at_the_setting(tmp_path, capsys):
    code, _, err = run(capsys, "run", universe_script(tmp_path, "nothing/*.csv"))
    assert code == 2
    assert "s.tbs:1:10: error: `nothing/*.csv` matches no file" in err and "^" in err


def test_a_universe_outside_the_scripts_folders_is_refused(tmp_path, capsys):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/A.csv").write_text(HEADER + "2024-01-01T00:00:00Z,1,1,1,1,1\n2024-01-01T01:00:00Z,1,1,1,1,1\n")
    folder = tmp_path / "scripts"
    folder.mkdir()
    code, _, err = run(capsys, "run", universe_script(folder, "../outside/*.csv"))
    assert code == 2 and "a script may only read files under its own folder" in err


def test_symbols_with_different_bar_intervals_are_refused(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/A.csv").write_text(HEADER + "".join(
        f"2024-01-01T{h:02d}:00:00Z,100,101,99,100,1\n" for h in range(6)))
    (tmp_path / "d/B.csv").write_text(HEADER + "".join(
        f"2024-01-01T{h:02d}:00:00Z,100,101,99,100,1\n" for h in range(0, 12, 2)))
    code, _, err = run(capsys, "run", universe_script(tmp_path, "d/*.csv"))
    assert code == 3
    assert "B.csv" in err and "2h apart" in err and "1h" in err


def test_a_failing_file_is_named_with_row_and_field(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/A.csv").write_text(HEADER + "".join(
        f"2024-01-01T{h:02d}:00:00Z,100,101,99,100,1\n" for h in range(6)))
    (tmp_path / "d/B.csv").write_text(HEADER + "2024-01-01T00:00:00Z,100,101,99,100,1\n"
                                      "2024-01-01T01:00:00Z,100,99,98,100,1\n")
    code, _, err = run(capsys, "run", universe_script(tmp_path, "d/*.csv"))
    assert code == 3
    assert "B.csv:3" in err and "field" in err


def test_duplicate_symbols_are_refused(tmp_path, capsys):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "A.csv").write_text(HEADER + "".join(
            f"2024-01-01T{h:02d}:00:00Z,100,101,99,100,1\n" for h in range(6)))
    code, _, err = run(capsys, "run", universe_script(tmp_path, "*/*.csv"))
    assert code == 3 and "appears twice" in err


def test_portfolio_settings_without_a_universe_are_warned_about(tmp_path, capsys):
    path = script(tmp_path, "max_positions 2\nrank by roc(close, 5)\nenter long when close > open\n")
    code, _, err = run(capsys, "check", path)
    assert code == 0
    assert "s.tbs:1:1: warning: `max_positions` applies to a universe" in err
    assert "s.tbs:2:1: warning: `rank` applies to a universe" in err


def test_rank_needs_by_and_a_number(tmp_path, capsys):
    path = script(tmp_path, 'universe "d/*.csv"\nrank roc(close, 5)\nrank by close > open\n'
                  "enter long when close > open\n")
    code, _, err = run(capsys, "check", path)
    assert code == 2
    assert "s.tbs:2:6: error: `rank` is followed by `by`" in err
    assert "hint: write `rank by roc(close, 20)`" in err


def test_check_resolves_the_universe_and_one_symbol_commands_refuse_it(tmp_path, capsys):
    code, out, _ = run(capsys, "check", str(ROTATION))
    assert code == 0 and "rotation.tbs: ok" in out
    code, _, err = run(capsys, "check", universe_script(tmp_path, "none/*.csv"))
    assert code == 2 and "matches no file" in err
    (tmp_path / "d").mkdir()
    (tmp_path / "d/A.csv").write_text(HEADER + "2024-01-01T00:00:00Z,1,1,1,1,1\n"
                                      "2024-01-01T01:00:00Z,1,1,1,1,1\n")
    path = script(tmp_path, 'universe "d/*.csv"\nm = close\nenter long when m > 0\n', "e.tbs")
    code, _, err = run(capsys, "eval", path)
    assert code == 2 and "the script trades a universe" in err and "^" in err
