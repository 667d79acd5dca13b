"""`data repair` on a file outside the store layout (issue 11.5): the offline repairs (torn tail,
duplicates, order, invalid rows) need no symbol and no network; only refetching does."""
from __future__ import annotations

from pathlib import Path

import pytest

from tradebot.cli import main
from tradebot.data.integrity import check_file
from tradebot.data.loader import load_ohlcv

REPO = Path(__file__).resolve().parents[2]
LINES = (REPO / "data" / "EURUSD_1h.csv").read_text().splitlines(True)[:41]  # header + 40 rows


def original(tmp_path: Path):
    path = tmp_path / "original.csv"
    path.write_text("".join(LINES))
    return load_ohlcv(path)


@pytest.fixture(autouse=True)
def no_exchange(monkeypatch, tmp_path: Path) -> None:
    """Any request would fail at once: the offline repair must not make one."""
    monkeypatch.setenv("TRADEBOT_BYBIT_REST_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TRADEBOT_BYBIT_MAX_ATTEMPTS", "1")
    monkeypatch.chdir(tmp_path)


def damaged(tmp_path: Path) -> Path:
    header, rows = LINES[0], LINES[1:]
    shuffled = rows[:10] + [rows[12]] + rows[10:12] + rows[13:] + [rows[5]]   # order + duplicate
    path = tmp_path / "eur_bad.csv"
    path.write_text(header + "".join(shuffled) + "2017-04-21T01:00:00Z,1.07")  # torn tail
    return path


def test_offline_repair_of_a_file_outside_the_store(tmp_path: Path, capsys) -> None:
    path = damaged(tmp_path)
    assert not check_file(path).clean
    assert main(["data", "repair", str(path)]) == 0
    out = capsys.readouterr().out
    assert "removed 2 bad row(s)" in out and "pass --symbol" in out
    assert check_file(path).clean
    assert load_ohlcv(path).equals(original(tmp_path))  # exactly the original rows, in order
    assert not path.with_name(path.name + ".orig").exists()  # already the standard layout


def test_a_whole_last_row_without_newline_is_kept(tmp_path: Path, capsys) -> None:
    path = tmp_path / "export.csv"
    path.write_text("".join(LINES).rstrip("\n"))
    assert main(["data", "repair", str(path)]) == 0
    assert "removed 0 bad row(s)" in capsys.readouterr().out
    assert load_ohlcv(path).equals(original(tmp_path))


def test_another_layout_is_kept_as_orig(tmp_path: Path, capsys) -> None:
    path = tmp_path / "extra.csv"
    rows = [line.rstrip("\n") + ",7\n" for line in LINES[1:]]
    vendor = LINES[0].rstrip("\n") + ",turnover\n" + "".join(rows[::-1])  # newest first
    path.write_text(vendor)
    assert main(["data", "repair", str(path)]) == 0
    assert path.with_name("extra.csv.orig").read_text() == vendor
    assert load_ohlcv(path).equals(original(tmp_path))


def test_fill_still_needs_a_symbol(tmp_path: Path, capsys) -> None:
    assert main(["data", "repair", str(damaged(tmp_path)), "--fill"]) == 2
    assert "--fill needs --symbol" in capsys.readouterr().err
