"""The terminal summary of `tradebot run`: risk levels in the script's words, prices at the data's
precision, counts with separators, `--trades 0`, and how often each rule held."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.cli.support import DATA, ROOT, run, script
from tradebot.cli import main
from tradebot.runtime.report import price_decimals


def settings_line(out: str, key: str) -> str:
    return next(line for line in out.splitlines() if line.strip().startswith(key + " ")).split(None, 1)[1].strip()


def test_a_series_risk_level_shows_as_the_script_wrote_it(capsys) -> None:
    code, out, _ = run(capsys, "run", str(ROOT / "examples/rsi_risk.tbs"))
    assert code == 0
    assert settings_line(out, "long.stop_loss") == "stop_loss k_stop * atr(14)"
    assert settings_line(out, "long.take_profit") == "0.6%"
    assert "per bar" not in out


def test_an_entry_order_shows_as_the_script_wrote_it(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "run", script(tmp_path, "enter long when close < close[1]\n"
                                             "enter long at limit close - 0.5 * atr(14) expire 3 bars\n"
                                             "exit long when close > close[1]\n"), "--data", str(DATA))
    assert code == 0
    assert settings_line(out, "long.entry") == "enter long at limit close - 0.5 * atr(14) expire 3 bars"


def test_the_terminal_table_has_cagr_not_the_arithmetic_annualized_return(capsys) -> None:
    _, out, _ = run(capsys, "run", str(ROOT / "examples/rsi.tbs"))
    assert "CAGR" in out and "Annualized return" not in out


@pytest.mark.parametrize("prices, tick, decimals", [
    ([1.0894, 1.08941, 1.2], None, 5),        # EUR/USD in 1/100 000
    ([74541.6, 74541.61, 74500.0], None, 2),  # BTC in cents
    ([100.0, 101.0], None, 0),
    ([0.1 + 0.2], None, 1),                   # a binary fraction is still one decimal
    ([1 / 3], None, 8),                       # never more than 8
    ([1.0], 0.00001, 5), ([1.0], 0.5, 1), ([1.0], 25.0, 0),
])
def test_price_decimals_from_the_tick_size_or_the_quotes(prices, tick, decimals) -> None:
    assert price_decimals(np.array(prices), tick_size=tick) == decimals


def test_trade_prices_use_the_datas_precision(tmp_path: Path, capsys) -> None:
    # Prices quoted in cents (BTC-like): no `74,541.61000`.
    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(60):
        price = 74000 + (i % 7) * 90.25 + i * 0.5
        lines.append(f"2024-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z,{price},{price + 50},{price - 50},{price + 0.25},1")
    data = tmp_path / "btc.csv"
    data.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "run", script(tmp_path, "enter long when close > close[1]\nexit long when close < close[1]\n"),
                       "--data", str(data))
    assert code == 0
    table = out.split("trades:", 1)[1]
    prices = [cell for line in table.splitlines()[3:] for cell in line.split() if cell.startswith("74,")]
    assert prices and all(len(cell.split(".")[1]) == 2 for cell in prices), prices


def test_trade_count_has_a_thousands_separator(capsys) -> None:
    _, out, _ = run(capsys, "run", str(ROOT / "examples/rsi.tbs"), "--trades", "1")
    title = next(line for line in out.splitlines() if line.startswith("Last "))
    total = int(title.split(" of ")[1].split()[0].replace(",", ""))
    assert title == f"Last 1 of {total:,} trades:"


def test_thousands_separator_in_a_big_trade_count(tmp_path: Path, capsys) -> None:
    # Enter and exit on alternate bars: over a thousand trades on the bundled data.
    code, out, _ = run(capsys, "run", script(tmp_path, "enter long when close > open\nexit long when close < open\n"),
                       "--data", str(DATA), "--trades", "2")
    assert code == 0
    title = next(line for line in out.splitlines() if line.startswith("Last "))
    assert title.startswith("Last 2 of ") and "," in title.split(" of ")[1]


def test_trades_zero_prints_no_trade_table(capsys) -> None:
    code, out, _ = run(capsys, "run", str(ROOT / "examples/rsi.tbs"), "--trades", "0")
    assert code == 0 and "Entry time" not in out and "Last " not in out and "trades:" not in out


def test_negative_trades_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(ROOT / "examples/rsi.tbs"), "--trades", "-1"])
    assert exit_.value.code == 2 and "0 or more" in capsys.readouterr().err


def test_a_run_without_trades_says_which_rule_never_held(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "run", script(tmp_path, "enter long when close > highest(high, 20)\n"
                                             "exit long when close < open\n"), "--data", str(DATA))
    assert code == 0 and "Trades: none" in out
    rules = out.split("Rules (bars on which the condition held, of 5,000):")[1]
    rows = {line.split()[0]: line for line in rules.splitlines()[3:5]}
    assert rows["1"].split()[-1] == "0" and "enter long when close > highest(high, 20)" in rows["1"]
    assert "1 rule never held: line 1" in rules


def test_rule_counts_are_the_bars_where_each_condition_held(tmp_path: Path, capsys) -> None:
    # Independent count from the raw data: bars closing above their open, and below.
    import polars as pl

    bars = pl.read_csv(DATA)
    up, down = int((bars["close"] > bars["open"]).sum()), int((bars["close"] < bars["open"]).sum())
    both = int(((bars["close"] > bars["open"]) | (bars["close"] < bars["open"] * 0.999)).sum())
    text = ("enter long when close > open\nexit long when close < open\n"
            "exit long when close > open or close < open * 0.999\n")
    _, out, _ = run(capsys, "run", script(tmp_path, text), "--data", str(DATA), "--trades", "0")
    rows = out.split("of 5,000):")[1].splitlines()[3:6]
    counts = [int(row.split()[-1].replace(",", "")) for row in rows]
    assert counts == [up, down, both]


def test_three_rules_of_one_signal_are_counted_each(tmp_path: Path, capsys) -> None:
    # The checker joins one signal's rules as a balanced tree: three rules raised an assertion.
    import polars as pl

    bars = pl.read_csv(DATA)
    up, down = int((bars["close"] > bars["open"]).sum()), int((bars["close"] < bars["open"]).sum())
    text = ("enter long when close > open\nexit long when close < open\nexit long when close > open\n"
            "exit long when close < open or close > open\n")
    code, out, _ = run(capsys, "run", script(tmp_path, text), "--data", str(DATA), "--trades", "0")
    rows = out.split("of 5,000):")[1].splitlines()[3:7]
    counts = [int(row.split()[-1].replace(",", "")) for row in rows]
    assert code == 0 and counts == [up, down, up, up + down]


def test_json_and_result_json_carry_the_rule_counts(tmp_path: Path, capsys) -> None:
    import json

    path = script(tmp_path, "enter long when close > highest(high, 20)\nexit long when close < open\n")
    code, out, _ = run(capsys, "run", path, "--data", str(DATA), "--json", "--out", str(tmp_path / "res"))
    assert code == 0
    for document in (json.loads(out), json.loads((tmp_path / "res/result.json").read_text())):
        assert document["rules"][0] == {"line": 1, "rule": "enter long when close > highest(high, 20)",
                                        "bars_true": 0}
        assert document["rules"][1]["bars_true"] > 0
