"""Terminal summary, JSON document and output files; the docs name every metric and reason."""
from __future__ import annotations

import json
import math

import polars as pl
import pytest

from tests.runtime.support import REPO, make_bars, make_signals
from tradebot.runtime import (ExecutionConfig, Signals, format_summary, result_to_dict,
                              run_backtest, write_outputs)
from tradebot.runtime.kernel import EXIT_REASONS
from tradebot.runtime.report import METRIC_ROWS, TERMINAL_HIDDEN

DOCS = REPO / "docs" / "execution.md"


@pytest.fixture(scope="module")
def winning_long():
    """One winning long trade and one losing short: long profit factor is infinite."""
    bars = make_bars([10, 10, 11, 12, 12, 13, 14], [10, 10.5, 11.5, 12, 12.5, 13.5, 14])
    signals = make_signals(7, enter_long=[0], exit_long=[2], enter_short=[3])
    return run_backtest(bars, signals, ExecutionConfig(fee=0.0005, slippage=0.0001))


def test_summary_shows_settings_params_metrics_and_trades(winning_long):
    text = format_summary(winning_long, title="SMA cross", settings={"data": "eurusd.csv"},
                          params={"fast": 12, "slow": 40}, last_trades=1)
    assert text.startswith("SMA cross\n=========\n")
    for expected in ("data", "eurusd.csv", "fee", "fast", "40", "Last 1 of 2 trades",
                     "end_of_data", "All", "Long", "Short"):
        assert expected in text
    for key, label, _ in METRIC_ROWS:
        assert (label in text) is (key not in TERMINAL_HIDDEN), label
    profit_factor = next(line for line in text.splitlines() if line.startswith("Profit factor"))
    assert profit_factor.split()[-2] == "inf"


def test_summary_without_trades_or_params():
    result = run_backtest(make_bars([1, 1], [1, 1]), Signals.none(2))
    text = format_summary(result, title="idle", settings={}, params={})
    assert "Trades: none" in text and "Params: none" in text


def test_json_document_is_strict_json_with_notes_for_infinities(winning_long):
    document = result_to_dict(winning_long, settings={"data": "x.csv"}, params={"n": 3})
    text = json.dumps(document, allow_nan=False)  # raises on NaN or inf
    parsed = json.loads(text)
    assert parsed["metrics"]["long"]["profit_factor"] is None
    assert any(note.startswith("metrics.long.profit_factor:") for note in parsed["notes"])
    assert parsed["settings"] == {"capital": 10_000.0, "fee": 0.0005, "slippage": 0.0001,
                                  "data": "x.csv"}
    first = parsed["trades"][0]
    assert first["entry_time"] == "2024-01-01T01:00:00Z" and first["side"] == "long"
    assert set(first) == {"side", "entry_time", "entry_price", "exit_time", "exit_price", "qty",
                          "fees", "pnl", "return_pct", "bars_held", "exit_reason", "ambiguous"}


def test_write_outputs(tmp_path, winning_long):
    paths = write_outputs(winning_long, tmp_path / "out", settings={}, params={})
    assert sorted(p.name for p in paths.values()) == ["equity.csv", "result.json", "trades.csv"]
    trades = pl.read_csv(paths["trades.csv"])
    assert trades.height == 2 and trades["exit_reason"].to_list() == ["signal", "end_of_data"]
    equity = pl.read_csv(paths["equity.csv"])
    assert equity.columns == ["timestamp", "equity", "position", "drawdown"]
    assert equity["timestamp"][0] == "2024-01-01T00:00:00Z"
    parsed = json.loads(paths["result.json"].read_text())
    assert math.isclose(parsed["metrics"]["all"]["final_equity"], winning_long.equity["equity"][-1])


def test_every_metric_is_shown_and_documented(winning_long):
    shown = {key for key, _, _ in METRIC_ROWS}
    produced = set().union(*(column.keys() for column in winning_long.metrics.values()))
    assert produced == shown
    docs = DOCS.read_text(encoding="utf-8")
    missing = [key for key in shown if f"`{key}`" not in docs]
    assert not missing, f"docs/execution.md does not define {missing}"


def test_every_exit_reason_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    assert all(f'"{reason}"' in docs for reason in EXIT_REASONS)


def test_a_ruined_run_says_so_in_the_summary_and_the_json():
    bars = make_bars([10, 10, 21, 40], [10, 10, 21, 40])      # short at 10, gap past 20 to 21
    result = run_backtest(bars, make_signals(4, enter_short=[0]), ExecutionConfig(capital=100.0))
    text = format_summary(result, title="short", settings={}, params={})
    assert text.splitlines()[3] == ("RUINED at 2024-01-01 02:00 (bar 2): the equity reached zero, the "
                                    "position was liquidated and nothing traded after it; a loss of "
                                    "10.00 beyond it was not carried")
    document = json.loads(json.dumps(result_to_dict(result, settings={}, params={}), allow_nan=False))
    assert document["ruin"] == {"bar": 2, "time": "2024-01-01T02:00:00Z", "shortfall": 10.0}
    assert document["notes"][-1].startswith("RUINED at")
    fine = run_backtest(bars, make_signals(4, enter_long=[0]), ExecutionConfig(capital=100.0))
    assert result_to_dict(fine, settings={}, params={})["ruin"] is None
    assert "RUINED" not in format_summary(fine, title="long", settings={}, params={})
