"""A script checked against its data before the run: `@ timeframe`s the data's interval cannot
build (an error with the script's line and caret, at `check --data` and at `run`), and constant
risk distances the data's prices make implausible (a warning, the run goes on)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import DATA as DATA_PATH
from tests.cli.support import run, script

DATA = str(DATA_PATH)
MTF = "e = ema(close, 50) @ 30m\nf = sma(close, 5) @ 90m\nenter long when close > e and close > f\n"


def test_check_with_data_reports_every_timeframe_the_interval_cannot_build(tmp_path: Path, capsys) -> None:
    path = script(tmp_path, MTF)
    code, out, _ = run(capsys, "check", path)
    assert code == 0 and ": ok" in out                   # without data nothing to hold it against
    code, out, err = run(capsys, "check", path, "--data", DATA)
    assert code == 2 and ": ok" not in out
    assert f"{path}:1:5: error: `@ 30m` needs a whole multiple of the data's interval (1h)" in err
    assert "    1 | e = ema(close, 50) @ 30m\n      |     ^^^^^^^^^^^^^^^^^^^^" in err
    assert f"{path}:2:5: error: `@ 90m`" in err and "2 errors in" in err


def test_run_shows_the_timeframe_error_at_its_source_line(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "run", script(tmp_path, MTF), "--data", DATA)
    assert code == 2 and out == ""
    assert "    1 | e = ema(close, 50) @ 30m" in err and "^^^^" in err
    assert "hint: use a timeframe such as 4h or 1d" in err


def test_check_with_data_accepts_a_fitting_script_and_names_the_data(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "check", script(tmp_path, "e = ema(close, 50) @ 4h\nenter long when close > e\n"),
                       "--data", DATA)
    assert code == 0 and f"fits {DATA}" in out


def test_check_with_bad_data_names_the_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,open,high\n1,2,3\n")
    code, _, err = run(capsys, "check", script(tmp_path, "enter long when close > open\n"), "--data", str(bad))
    assert code == 3 and str(bad) in err


def test_a_bare_number_distance_beyond_the_price_range_warns_and_the_run_goes_on(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "run", script(tmp_path, "trailing_stop long 2\nenter long when close > open\n"
                                               "exit long when close < open\n"), "--data", DATA, "--json")
    assert code == 0 and json.loads(out)["metrics"]
    assert ":1:20: warning: `trailing_stop` of longs is a price distance of 2, more than the data's whole price range" in err
    assert "    1 | trailing_stop long 2\n      |                    ^" in err
    assert "hint: write `2%` for a percentage of the entry price" in err


def test_a_param_distance_points_at_the_param(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "check", script(tmp_path, "param k = 2 in 1..3\nstop_loss k\nenter long when close > open\n"),
                       "--data", DATA)
    assert code == 0
    assert ":1:7: warning: `stop_loss` of longs is a price distance of k = 2" in err
    assert "give `k` a `%`" in err


@pytest.mark.parametrize("text", ["stop_loss 0.002", "stop_loss 2%", "take_profit 3 * atr(14)",
                                  "stop_loss long at lowest(low, 10)"])
def test_plausible_or_non_constant_levels_do_not_warn(tmp_path: Path, text: str, capsys) -> None:
    code, _, err = run(capsys, "check", script(tmp_path, f"{text}\nenter long when close > open\n"), "--data", DATA)
    assert code == 0 and "warning" not in err


def _wide_data(tmp_path: Path) -> str:
    # Prices from 10 to 100: a range of 90, a median close of 55.
    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(91):
        price = 10 + i
        lines.append(f"2024-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z,{price},{price},{price},{price},1")
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("distance, warns", [(30, True), (20, False)])
def test_a_distance_over_half_the_median_price_warns(tmp_path: Path, distance: float, warns: bool, capsys) -> None:
    code, _, err = run(capsys, "check", script(tmp_path, f"stop_loss {distance}\nenter long when close > open\n"),
                       "--data", _wide_data(tmp_path))
    assert code == 0
    assert ("more than half the data's median price (55)" in err) is warns
