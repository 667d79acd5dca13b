"""The portfolio page's data: the equal-weight basket worked by hand, the tables the terminal
prints, the trades with their symbol, and a saved run whose files are gone."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tradebot.cli import main
from tradebot.report.portfolio import basket_equity
from tradebot.report.saved import page_from_folder

ROOT = Path(__file__).parents[2]
ROTATION = ROOT / "examples" / "rotation.tbs"


def test_the_basket_holds_cash_until_a_symbols_first_bar_and_marks_gaps_at_the_last_close():
    """1,000 split in two: A from 10 (its half doubles by the last bar), B has no first bar (cash)
    then 50 and 25, its missing bar marked at 50. Bar by bar: A's half x A/10, B's half x B/50."""
    nan = np.nan
    close = np.array([[10.0, nan], [15.0, 50.0], [20.0, nan], [20.0, 25.0]])
    expected = [500 * 1.0 + 500 * 1.0, 500 * 1.5 + 500 * 1.0, 500 * 2.0 + 500 * 1.0, 500 * 2.0 + 500 * 0.5]
    assert basket_equity(close, 1_000.0).tolist() == pytest.approx(expected)


def test_saved_portfolio_folder_page_matches_the_run_and_says_when_files_are_gone(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(ROTATION), "--out", str(out), "--trades", "0", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {"symbol", "entry_time", "pnl"} <= set(document["trades"][0])
    page = page_from_folder(out)
    assert [t["symbol"] for t in page.trades] == [t["symbol"] for t in document["trades"]]
    assert [row[0] for row in page.symbol_table.rows] == document["symbols"]
    # The basket ends at the metrics' buy and hold.
    hold = document["metrics"]["all"]["buy_and_hold_return_pct"]
    assert page.hold[-1] == pytest.approx(page.capital * (1 + hold / 100))
    assert not page.notes
    extras = json.loads((out / "report.json").read_text())
    extras["files"]["GENA"] = str(tmp_path / "gone.csv")
    (out / "report.json").write_text(json.dumps(extras))
    moved = page_from_folder(out)
    assert any("could not be read" in note for note in moved.notes)
    assert np.isnan(moved.hold).all() and moved.trades == page.trades
