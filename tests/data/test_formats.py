"""Common exports load without editing (issue 11.4): each fixture in tests/fixtures/formats/ is the
bundled EUR/USD data written in a vendor's layout (make_fixtures.py), and must load to exactly the
bundled rows, which are read here by polars directly, not by the loader."""
from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from tradebot.data.loader import load_ohlcv
from tradebot.data.schema import OHLCV_SCHEMA
from tradebot.errors import DataError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "formats"


def truth(rows: int = 48) -> pl.DataFrame:
    raw = pl.read_csv(REPO / "data" / "EURUSD_1h.csv", n_rows=rows)
    return raw.with_columns(pl.col("timestamp").str.strptime(pl.Datetime("ms", "UTC"),
                                                             "%Y-%m-%dT%H:%M:%SZ"))


@pytest.mark.parametrize(("name", "recognised"), [
    ("tradingview.csv", "recognised TradingView: time (epoch seconds) -> timestamp"),
    ("binance_klines.csv", "recognised Binance klines (no header): field 1 (epoch milliseconds)"),
    ("binance_klines_header_us.csv", "recognised Binance klines: open_time (epoch microseconds)"),
    ("metatrader4.csv", "recognised MetaTrader (no header): field 1 + field 2 (date and time)"),
    ("metatrader5.csv", "recognised MetaTrader: <DATE> + <TIME> (date and time)"),
    ("semicolon_decimal_comma.csv", "recognised a header: Date (date and time)"),
])
def test_vendor_exports_load_to_the_same_bars(name: str, recognised: str, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="tradebot.data.loader"):
        frame = load_ohlcv(FIXTURES / name)
    assert frame.schema == pl.Schema(OHLCV_SCHEMA)
    assert frame.equals(truth())
    assert recognised in caplog.text


def test_what_was_ignored_is_reported(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="tradebot.data.loader"):
        load_ohlcv(FIXTURES / "metatrader5.csv")
        load_ohlcv(FIXTURES / "yahoo.csv")
    assert "<TICKVOL> -> volume; ignored: <VOL>, <SPREAD>" in caplog.text
    assert "recognised Yahoo: Date (date and time)" in caplog.text
    assert "Close -> close, Volume -> volume; ignored: Adj Close" in caplog.text


def test_yahoo_daily_uses_close_not_adjusted_close() -> None:
    frame = load_ohlcv(FIXTURES / "yahoo.csv")
    hours = truth(24 * 40)
    days = hours.group_by_dynamic("timestamp", every="1d").agg(
        pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
        pl.col("close").last(), pl.col("volume").sum())
    assert frame.equals(days)


def test_no_volume_column_loads_with_missing_volume(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="tradebot.data.loader"):
        frame = load_ohlcv(FIXTURES / "no_volume.csv")
    assert frame.drop("volume").equals(truth().drop("volume"))
    assert frame["volume"].null_count() == frame.height
    assert "no volume column" in caplog.text


def test_one_missing_volume_among_others_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "gap.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\n"
                    "2024-01-02,1,2,0.5,1.5,\n")
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    assert (info.value.row, info.value.field) == (3, "volume")


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_headerless_generic_any_separator(tmp_path: Path, separator: str) -> None:
    rows = truth(5).with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    path = tmp_path / "plain.csv"
    path.write_text(rows.write_csv(include_header=False, separator=separator))
    assert load_ohlcv(path).equals(truth(5))


def test_headerless_errors_count_lines_from_one(tmp_path: Path) -> None:
    path = tmp_path / "mt4.csv"
    lines = (FIXTURES / "metatrader4.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",1.07", ",abc", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    assert (info.value.row, info.value.field) == (4, "open")


def test_unrecognisable_first_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("1.5,abc,2\n")
    with pytest.raises(DataError, match="missing column"):
        load_ohlcv(path)


@pytest.mark.parametrize(("script", "token", "what"), [
    ("enter long when close > open and volume > 0\n", "volume", "the script reads `volume`"),
    ("x = 1\nenter long when ad() > ad()[1]\n", "ad()", "`ad()` reads volume"),
    ("enter long when close > vwap(hlc3)\n", "vwap(hlc3)", "`vwap(hlc3)` reads volume"),
])
def test_a_script_reading_volume_is_refused_on_data_without_it(
        tmp_path: Path, capsys, script: str, token: str, what: str) -> None:
    from tradebot.cli import main

    path = tmp_path / "s.tbs"
    path.write_text(script)
    assert main(["run", str(path), "--data", str(FIXTURES / "no_volume.csv")]) == 2
    err = capsys.readouterr().err
    assert f"{what}, but the data has no volume column" in err and "Traceback" not in err
    lines = err.splitlines()
    source = next(i for i, line in enumerate(lines) if line.endswith(script.splitlines()[-1]))
    code, carets = lines[source].split("| ", 1)[1], lines[source + 1].split("| ", 1)[1]
    assert carets == " " * code.index(token) + "^" * len(token)  # the first read is pointed at
    assert main(["run", str(path), "--data", str(FIXTURES / "tradingview.csv")]) == 0


def test_a_script_without_volume_runs_on_data_without_it(tmp_path: Path, capsys) -> None:
    from tradebot.cli import main

    path = tmp_path / "s.tbs"
    path.write_text("enter long when close > sma(close, 5)\nexit long when close < sma(close, 5)\n")
    assert main(["run", str(path), "--data", str(FIXTURES / "no_volume.csv")]) == 0
    assert "Total return" in capsys.readouterr().out


def test_data_check_counts_lines_of_a_headerless_file_from_one(tmp_path: Path) -> None:
    from tradebot.data.integrity import check_file

    lines = (FIXTURES / "metatrader4.csv").read_text().splitlines(True)
    path = tmp_path / "mt4.csv"
    path.write_text("".join(lines[:5] + [lines[3]] + lines[5:]))   # line 6 repeats line 4
    report = check_file(path)
    assert [(f.kind, f.line) for f in report.findings if f.kind == "dup"] == [("dup", 6)]


def test_eval_of_a_script_reading_volume_is_refused_on_data_without_it(tmp_path: Path,
                                                                         capsys) -> None:
    from tradebot.cli import main

    path = tmp_path / "s.tbs"
    path.write_text("flow = obv(close)\nenter long when flow > 0\n")
    assert main(["eval", str(path), "--data", str(FIXTURES / "no_volume.csv")]) == 2
    assert "`obv(close)` reads volume, but the data has no volume column" in capsys.readouterr().err
