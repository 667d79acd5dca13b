"""`tradebot eval`: expressions and script series written with their timestamps (csv, parquet,
table, --tail, --out), and every user error reported with its location, exit code 2, no
traceback."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import talib

from tradebot.cli import main
from tradebot.data.loader import load_ohlcv

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "EURUSD_1h.csv"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["eval", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def read_csv(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text))


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return load_ohlcv(DATA)


def test_expressions_to_csv_with_timestamps(capsys, bars) -> None:
    code, out, _ = run(capsys, "rsi(close, 14)", "bbands(close, 20, 2).upper", "--data", str(DATA))
    assert code == 0
    frame = read_csv(out)
    assert frame.columns == ["timestamp", "rsi(close, 14)", "bbands(close, 20, 2).upper"]
    assert frame.height == bars.height
    assert frame["timestamp"][0] == "2017-04-19T10:00:00Z" or frame["timestamp"][0].endswith("Z")
    close = bars["close"].to_numpy()
    ours = frame["rsi(close, 14)"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    np.testing.assert_allclose(ours, talib.RSI(close, 14), rtol=1e-9)
    upper = frame["bbands(close, 20, 2).upper"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    np.testing.assert_allclose(upper, talib.BBANDS(close, 20, 2, 2, 0)[0], rtol=1e-9)


def test_tail_table_and_record_expansion(capsys) -> None:
    code, out, _ = run(capsys, "macd(close)", "close > open", "--tail", "3", "--format", "table",
                       "--data", str(DATA))
    assert code == 0
    for column in ("timestamp", "macd(close).macd", "macd(close).signal", "macd(close).hist", "close > open"):
        assert column in out
    assert out.count("2018-02-07") == 3


def test_multi_timeframe_expression(capsys, bars) -> None:
    code, out, _ = run(capsys, "close @ 4h", "--data", str(DATA), "--tail", "8")
    assert code == 0
    frame = read_csv(out)
    # The data ends at 15:00: the 12:00-16:00 bar closes with that bar and shows on it.
    assert frame["close @ 4h"][-1] == bars["close"][-1]
    assert frame["close @ 4h"][-2] == bars["close"][-5]  # 11:00 closed the 08:00-12:00 bar


def test_parquet_out_and_csv_out(tmp_path: Path, capsys, bars) -> None:
    target = tmp_path / "features.parquet"
    code, _, err = run(capsys, "sma(close, 5)", "atr(14)", "--out", str(target), "--data", str(DATA))
    assert code == 0 and "wrote" in err
    frame = pl.read_parquet(target)
    assert frame.columns == ["timestamp", "sma(close, 5)", "atr(14)"] and frame.height == bars.height
    assert frame["timestamp"].dtype == pl.Datetime("ms", "UTC")
    csv = tmp_path / "f.csv"
    assert run(capsys, "close", "--out", str(csv), "--tail", "2", "--data", str(DATA))[0] == 0
    assert read_csv(csv.read_text()).height == 2


def test_script_series(capsys, bars) -> None:
    code, out, _ = run(capsys, str(ROOT / "examples" / "rsi.tbs"), "--series", "r", "--set", "length=10")
    assert code == 0
    frame = read_csv(out)
    assert frame.columns == ["timestamp", "r"]
    np.testing.assert_allclose(frame["r"].cast(pl.Float64).fill_null(np.nan).to_numpy(),
                               talib.RSI(bars["close"].to_numpy(), 10), rtol=1e-9)
    code, out, _ = run(capsys, str(ROOT / "examples" / "breakout.tbs"), "--tail", "1")
    assert code == 0 and read_csv(out).columns == ["timestamp", "upper", "lower", "middle", "awake"]


@pytest.mark.parametrize("argv, expected", [
    (["rsi(close, 14)", "sma(clse, 5)"], ["<arg 2>:1:5: error: unknown name `clse`", "did you mean `close`?"]),
    (["sma(close,"], ["<arg 1>:1:4: error: `(` is never closed"]),
    (["rsi(close, 14) +", "max(close)"], ["<arg 1>:", "<arg 2>:1:1: error: `max` needs its `b` argument"]),
    (["close @ 30m"], ["<arg 1>:1:1: error: `@ 30m` needs a whole multiple of the data's interval (1h)"]),
    (["close", "--format", "parquet"], ["--format parquet writes a binary file: add --out PATH"]),
    (["close", "--tail", "0"], ["--tail 0"]),
    (["close", "--series", "r"], ["--series and --set apply to a .tbs script"]),
    ([str(ROOT / "examples" / "rsi.tbs"), "--series", "rr"], ["has no series `rr`", "did you mean `r`?"]),
    ([str(ROOT / "examples" / "rsi.tbs"), "close"], ["give either one .tbs script or expressions"]),
    (["nothere.tbs"], ["nothere.tbs: no such script"]),
])
def test_user_errors_exit_2_with_location(argv: list[str], expected: list[str], capsys) -> None:
    code, out, err = run(capsys, *argv, *([] if "--data" in argv else ["--data", str(DATA)]))
    assert code == 2, err
    for text in expected:
        assert text in err
    assert out == ""


def test_bad_data_file_is_a_data_error(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "close", "--data", str(tmp_path / "missing.csv"))
    assert code == 3 and "file not found" in err
