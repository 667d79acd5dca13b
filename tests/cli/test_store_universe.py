"""`universe BTCUSDT, ETHUSDT` read from the candle store, and `close of SYMBOL` in `tradebot run`,
on a temporary store written with the project's store writer."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tradebot.data.intervals import parse_interval
from tradebot.data.store import CandleStore, SeriesKey

from tests.cli.support import run, script

START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
RULES = ("max_positions 2\nrank by roc(close, 3)\nsize 40% of equity\n"
         "enter long when roc(close, 3) > 0\nexit long when roc(close, 3) < 0\n")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CandleStore:
    """Three symbols' hourly candles written by CandleStore into ./data/bybit (the default root)."""
    monkeypatch.chdir(tmp_path)
    candles = CandleStore(tmp_path / "data" / "bybit", fsync=False)
    rng = np.random.default_rng(7)
    for symbol in SYMBOLS:
        write(candles, symbol, "1h", 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 200))))
    return candles


def write(candles: CandleStore, symbol: str, interval: str, close: np.ndarray, *, hours: int = 1) -> None:
    times = [START + dt.timedelta(hours=hours * i) for i in range(len(close))]
    frame = pl.DataFrame({"timestamp": times, "open": close, "high": close * 1.01, "low": close * 0.99,
                          "close": close, "volume": np.ones(len(close))})
    candles.merge(SeriesKey("linear", symbol, parse_interval(interval)), frame)


def result(capsys, path: str, *flags: str) -> dict:
    code, out, err = run(capsys, "run", path, "--json", *flags)
    assert code == 0, err
    return json.loads(out)


def test_a_store_universe_trades_as_the_glob_of_the_same_files(store, tmp_path, capsys):
    listed = result(capsys, script(tmp_path, f'universe {", ".join(SYMBOLS)}\n{RULES}', "listed.tbs"))
    globbed = result(capsys, script(tmp_path, f'universe "data/bybit/linear/*/1h.csv"\n{RULES}', "glob.tbs"))
    assert listed["trades"] and listed["trades"] == globbed["trades"]
    assert listed["metrics"] == globbed["metrics"] and listed["per_symbol"] == globbed["per_symbol"]
    assert listed["settings"]["universe"] == "BTCUSDT, ETHUSDT, SOLUSDT"


def test_a_symbol_missing_from_the_store_names_the_fetch_command(store, tmp_path, capsys):
    code, _, err = run(capsys, "run", script(tmp_path, f"universe BTCUSDT, XRPUSDT, DOGEUSDT\n{RULES}"))
    assert code == 3
    assert "XRPUSDT has no 1h candles in the store (also missing: DOGEUSDT)" in err
    assert "tradebot fetch --universe" in err and "s.tbs --interval 1h --since" in err


def test_symbols_at_different_intervals_need_one_chosen(store, tmp_path, capsys):
    write(store, "ADAUSDT", "4h", np.full(50, 10.0), hours=4)
    path = script(tmp_path, f"universe BTCUSDT, ADAUSDT\n{RULES}")
    code, _, err = run(capsys, "run", path)
    assert code == 3 and "different bar intervals in the store: BTCUSDT 1h, ADAUSDT 4h" in err
    code, _, err = run(capsys, "run", path, "--interval", "4h")
    assert code == 3 and "BTCUSDT has no 4h candles in the store; it has 1h" in err


def test_a_symbol_with_several_intervals_asks_which(store, tmp_path, capsys):
    write(store, "BTCUSDT", "4h", np.full(50, 10.0), hours=4)
    path = script(tmp_path, f"universe BTCUSDT, ETHUSDT\n{RULES}")
    code, _, err = run(capsys, "run", path)
    assert code == 3 and "BTCUSDT has 1h, 4h candles in the store: which interval?" in err
    assert "--interval 1h" in err
    assert result(capsys, path, "--interval", "1h")["settings"]["symbols"] == "BTCUSDT, ETHUSDT"


def test_a_store_file_that_fails_validation_is_named_with_row_and_field(store, tmp_path, capsys):
    path = tmp_path / "data/bybit/linear/ETHUSDT/1h.csv"
    lines = path.read_text().splitlines(True)
    lines[5] = lines[5].split(",")[0] + ",100,99,98,100,1\n"  # high below open
    path.write_text("".join(lines))
    code, _, err = run(capsys, "run", script(tmp_path, f"universe BTCUSDT, ETHUSDT\n{RULES}"))
    assert code == 3 and "ETHUSDT/1h.csv:6" in err and "high" in err


def test_of_reads_the_store_at_the_data_interval_in_a_one_symbol_script(store, tmp_path, capsys):
    """`close of BTCUSDT` in a script run on ETH's file: the rule holds exactly where ETH's close
    is above BTC's at the same hour (counted independently from the two files)."""
    data = tmp_path / "data/bybit/linear/ETHUSDT/1h.csv"
    code, out, err = run(capsys, "run", script(tmp_path, "enter long when close > close of BTCUSDT\n"
                                               "exit long when close < close of BTCUSDT\n"),
                         "--data", str(data))
    assert code == 0, err
    eth = pl.read_csv(data)["close"].to_numpy()
    btc = pl.read_csv(tmp_path / "data/bybit/linear/BTCUSDT/1h.csv")["close"].to_numpy()
    held = re.search(r"enter long when close > close of BTCUSDT +(\d+)", out)
    assert held and int(held.group(1)) == int((eth > btc).sum()) > 0


def test_of_a_symbol_missing_from_the_store_names_the_fetch_command(store, tmp_path, capsys):
    code, _, err = run(capsys, "run", script(tmp_path, "enter long when close > close of XRPUSDT\n"),
                       "--data", str(tmp_path / "data/bybit/linear/ETHUSDT/1h.csv"))
    assert code == 3 and "XRPUSDT has no 1h candles" in err
    assert "tradebot fetch XRPUSDT --interval 1h --since" in err


def test_of_in_a_glob_universe_reads_only_its_files(store, tmp_path, capsys):
    (tmp_path / "d").mkdir()
    for symbol in ("BTCUSDT", "ETHUSDT"):
        shutil.copy(tmp_path / f"data/bybit/linear/{symbol}/1h.csv", tmp_path / f"d/{symbol}.csv")
    code, _, err = run(capsys, "run", script(tmp_path, 'universe "d/*.csv"\n'
                                             "enter long when close > close of SOLUSDT\n"))
    assert code == 2 and "s.tbs:2:25: error: `SOLUSDT` is not in the universe" in err
    assert "its symbols are BTCUSDT, ETHUSDT" in err


def test_a_universe_reading_a_member_with_of_uses_its_bars(store, tmp_path, capsys):
    """BTC as a regime filter for the universe: with BTC's close never above 1e9, nothing trades;
    with the filter always true, the run is the unfiltered one."""
    never = result(capsys, script(tmp_path, "universe BTCUSDT, ETHUSDT\nenter long when close of BTCUSDT > 1e9\n"
                                  "exit long when close < open\n", "n.tbs"))
    assert never["trades"] == []
    always = result(capsys, script(tmp_path, "universe BTCUSDT, ETHUSDT\nenter long when roc(close, 1) > 0 and "
                                   "close of BTCUSDT > 0\nexit long when roc(close, 1) < 0\n", "a.tbs"))
    plain = result(capsys, script(tmp_path, "universe BTCUSDT, ETHUSDT\nenter long when roc(close, 1) > 0\n"
                                  "exit long when roc(close, 1) < 0\n", "p.tbs"))
    assert always["trades"] and always["trades"] == plain["trades"]


def test_eval_exports_a_series_read_from_another_symbol(store, tmp_path, capsys):
    data = tmp_path / "data/bybit/linear/ETHUSDT/1h.csv"
    code, out, err = run(capsys, "eval", script(tmp_path, "gap = close - close of BTCUSDT\n"),
                         "--data", str(data), "--format", "csv", "--tail", "200")
    assert code == 0, err
    got = pl.read_csv(out.encode())["gap"].to_numpy()
    eth = pl.read_csv(data)["close"].to_numpy()
    btc = pl.read_csv(tmp_path / "data/bybit/linear/BTCUSDT/1h.csv")["close"].to_numpy()
    np.testing.assert_allclose(got, eth - btc, rtol=1e-12)


def test_a_report_draws_a_named_series_read_from_another_symbol(store, tmp_path, capsys):
    """The report's named series are evaluated with the run's other-symbol bars: `gap` is ETH's
    close minus BTC's at the same hour, read back from the page's data."""
    data = tmp_path / "data/bybit/linear/ETHUSDT/1h.csv"
    page = tmp_path / "r.html"
    code, _, err = run(capsys, "run", script(tmp_path, "gap = close - close of BTCUSDT\n"
                                             "enter long when gap > 0\nexit long when gap < 0\n"),
                       "--data", str(data), "--report", str(page), "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert page.exists() and "gap" in page.read_text(encoding="utf-8")
