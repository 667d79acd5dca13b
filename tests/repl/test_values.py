"""What an expression prints: its last values with their timestamps, checked against numpy on the
same bars; multi-output values show one column per field. (How fast a 1M-bar answer comes is
measured by bench/bench_repl.py, not asserted here.)"""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tests.repl.conftest import FAKE_FIELDS
from tests.repl.support import close_enough, parse_table


def _times(bars: pl.DataFrame, rows: int) -> list[str]:
    return bars["timestamp"].tail(rows).dt.strftime("%Y-%m-%d %H:%M").to_list()


def test_an_expression_prints_its_last_values_with_timestamps(repl, eurusd):
    times, columns = parse_table(repl.handle("close - open").text)
    close, open_ = eurusd["close"].to_numpy(), eurusd["open"].to_numpy()
    truth = (close - open_)[-10:]
    assert times == _times(eurusd, 10)
    assert all(close_enough(shown, want) for shown, want in zip(columns["close - open"], truth))


def test_definitions_are_used_by_later_expressions_and_tail_changes_the_rows(repl, eurusd):
    repl.handle("param n = 3 in 2..9")
    repl.handle("m = sma(close, n)")
    assert "20" in repl.handle(":tail 20").text
    times, columns = parse_table(repl.handle("m").text)
    close = eurusd["close"].to_numpy()
    truth = np.convolve(close, np.ones(3) / 3, mode="valid")[-20:]
    assert times == _times(eurusd, 20)
    assert all(close_enough(shown, want) for shown, want in zip(columns["m"], truth))


def test_warm_up_values_are_missing_and_conditions_are_true_or_false(repl, eurusd):
    repl.handle(":tail 5000")
    _, columns = parse_table(repl.handle("sma(close, 4)").text)
    values = columns["sma(close, 4)"]
    assert values[:3] == [None, None, None] and values[3] is not None
    repl.handle(":tail 8")
    _, columns = parse_table(repl.handle("close > open").text)
    truth = (eurusd["close"] > eurusd["open"]).tail(8).to_list()
    assert columns["close > open"] == truth


def test_rsi_matches_ta_lib(repl, eurusd):
    talib = pytest.importorskip("talib")
    _, columns = parse_table(repl.handle("rsi(close, 14)").text)
    truth = talib.RSI(eurusd["close"].to_numpy(), 14)[-10:]
    assert all(close_enough(shown, want) for shown, want in zip(columns["rsi(close, 14)"], truth))


def test_a_constant_prints_its_value(repl):
    repl.handle("param n = 14 in 5..30")
    assert repl.handle("n * 2 + 0.5").text == "28.5"
    assert repl.handle("2 > 3").text == "false"


def test_multi_output_values_show_every_field(repl, eurusd, bands):
    assert "defined bb" in repl.handle(f"bb = {bands}(close, 4)").text
    times, columns = parse_table(repl.handle("bb").text)
    assert list(columns) == list(FAKE_FIELDS)
    mean = np.convolve(eurusd["close"].to_numpy(), np.ones(4) / 4, mode="valid")[-10:]
    assert all(close_enough(s, m + 1) for s, m in zip(columns["upper"], mean))
    assert all(close_enough(s, m - 1) for s, m in zip(columns["lower"], mean))
    _, width = parse_table(repl.handle("bb.upper - bb.lower").text)
    assert width["bb.upper - bb.lower"] == [2.0] * 10
