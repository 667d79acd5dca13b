"""load_ohlcv: both timestamp styles, the bundled file, and every rejection with its line and field."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tradebot.data.loader import load_ohlcv
from tradebot.data.schema import validate_ohlcv
from tradebot.market.bars import OHLCV_COLUMNS, OHLCV_SCHEMA
from tradebot.market.timeframe import infer_interval_ms
from tradebot.errors import DataError

REPO = Path(__file__).resolve().parents[2]
HEADER = "timestamp,open,high,low,close,volume\n"
UTC = dt.timezone.utc


def write(tmp_path: Path, text: str, name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def rejects(tmp_path: Path, text: str) -> DataError:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    assert info.value.path == str(path)
    assert str(path) in info.value.render()
    return info.value


def test_bundled_eurusd() -> None:
    df = load_ohlcv(REPO / "data" / "EURUSD_1h.csv")
    assert df.height == 5000
    assert df.schema == pl.Schema(OHLCV_SCHEMA)
    assert df.columns == list(OHLCV_COLUMNS)
    assert df["timestamp"][0] == dt.datetime(2017, 4, 19, 9, tzinfo=UTC)
    assert df["close"][0] == pytest.approx(1.07219)
    assert infer_interval_ms(df["timestamp"].dt.epoch("ms").to_numpy()) == 3_600_000


@pytest.mark.parametrize("stamp", [
    "2024-01-01T00:00:00Z", "2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00",
    "2024-01-01 00:00:00", "2024-01-01", "2023-12-31T19:00:00-0500", "2024-01-01T00:00:00.000Z",
    "2024-01-01T00:00Z", " 2024-01-01T00:00:00Z ",
])
def test_iso_spellings(tmp_path: Path, stamp: str) -> None:
    df = load_ohlcv(write(tmp_path, HEADER + f"{stamp},1,2,0.5,1.5,10\n"))
    assert df["timestamp"].to_list() == [dt.datetime(2024, 1, 1, tzinfo=UTC)]


def test_mixed_iso_spellings_in_one_file(tmp_path: Path) -> None:
    body = "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T03:00:00+02:00,1,2,0.5,1.5,10\n"
    df = load_ohlcv(write(tmp_path, HEADER + body))
    assert df["timestamp"][1] == dt.datetime(2024, 1, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("values", "unit"), [
    ([1704067200000, 1704070800000], "ms"),
    ([1704067200, 1704070800], "s"),
])
def test_epoch_timestamps(tmp_path: Path, values: list[int], unit: str) -> None:
    body = "".join(f"{v},1,2,0.5,1.5,10\n" for v in values)
    df = load_ohlcv(write(tmp_path, HEADER + body))
    assert df["timestamp"].to_list() == [
        dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1, 1, tzinfo=UTC)]
    assert df.schema == pl.Schema(OHLCV_SCHEMA)


def test_header_case_order_and_extra_columns(tmp_path: Path) -> None:
    text = "Volume,CLOSE,Turnover,Low,High,Open,TimeStamp\n10,1.5,99,0.5,2,1,2024-01-01\r\n"
    df = load_ohlcv(write(tmp_path, "\ufeff" + text + "\n\n"))
    assert df.columns == list(OHLCV_COLUMNS)
    assert df.row(0)[1:] == (1.0, 2.0, 0.5, 1.5, 10.0)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_ohlcv(tmp_path / "nope.csv")


def test_empty_file(tmp_path: Path) -> None:
    err = rejects(tmp_path, "")
    assert "empty" in err.message


def test_header_only(tmp_path: Path) -> None:
    err = rejects(tmp_path, HEADER)
    assert "no data rows" in err.message
    assert load_ohlcv(write(tmp_path, HEADER, "h.csv"), allow_empty=True).schema == pl.Schema(OHLCV_SCHEMA)


def test_missing_columns_hint_lists_found(tmp_path: Path) -> None:
    # (`time,open,high,low,close` without volume is a TradingView export now: tests/data/test_formats.py)
    err = rejects(tmp_path, "when,open,high,low,volume\n2024-01-01,1,2,0.5,1.5\n")
    assert err.row == 1
    assert "timestamp" in err.message and "close" in err.message
    assert err.hint is not None and "when, open, high, low, volume" in err.hint


GOOD = "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
ROW2 = "2024-01-01T01:00:00Z,{o},{h},{l},{c},{v}\n"


def second_row(**values: object) -> str:
    base = {"o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 10}
    return HEADER + GOOD + ROW2.format(**{**base, **values})


@pytest.mark.parametrize(("text", "line", "field", "words"), [
    (second_row(o="abc"), 3, "open", "cannot parse 'abc'"),
    (second_row(v="1,2"), 3, None, "fields"),
    (HEADER + GOOD + "2024-13-01T00:00:00Z,1,2,0.5,1.5,10\n", 3, "timestamp", "cannot parse"),
    (HEADER + "1704067200000,1,2,0.5,1.5,10\n2024-01-01,1,2,0.5,1.5,10\n", 3, "timestamp",
     "epoch integer"),
    (second_row(c=""), 3, "close", "missing value"),
    (HEADER + GOOD + "\n" + GOOD.replace("T00", "T02"), 3, "timestamp", "missing value"),
    (second_row(h="nan"), 3, "high", "finite"),
    (second_row(l="-inf"), 3, "low", "finite"),
    (second_row(v="inf"), 3, "volume", "finite"),
    (HEADER + GOOD + GOOD, 3, "timestamp", "duplicate timestamp"),
    (HEADER + GOOD.replace("T00", "T05") + GOOD, 3, "timestamp", "goes backwards"),
    (second_row(o=1, c=3, h=2.5), 3, "high", "high is below open/close"),
    (second_row(o=1, c=0.4), 3, "low", "low is above open/close"),
    (second_row(h=0.4, l=0.5, o=0.45, c=0.45), 3, "high", "high is below low"),
    (second_row(v=-1), 3, "volume", "negative"),
])
def test_rejections_name_line_and_field(
    tmp_path: Path, text: str, line: int, field: str | None, words: str
) -> None:
    err = rejects(tmp_path, text)
    assert (err.row, err.field) == (line, field)
    assert words in err.message
    assert f":{line}:" in err.render()


def test_first_bad_line_is_reported_among_many(tmp_path: Path) -> None:
    rows = [f"2024-01-01T{h:02d}:00:00Z,1,2,0.5,1.5,10\n" for h in range(20)]
    rows[7] = rows[7].replace(",10\n", ",-5\n")      # line 9: negative volume
    rows[12] = rows[12].replace(",2,", ",0.7,")      # line 14: high below close
    err = rejects(tmp_path, HEADER + "".join(rows))
    assert (err.row, err.field) == (9, "volume")


def test_validate_ohlcv_checks_schema() -> None:
    frame = pl.DataFrame({"timestamp": [1], "open": [1.0]})
    with pytest.raises(DataError, match="missing column"):
        validate_ohlcv(frame, "<mem>")


def test_million_rows_round_trip(tmp_path: Path) -> None:
    """A large file loads exactly (its speed is measured in bench/bench_loader.py, not asserted here)."""
    n = 200_000
    rng = np.random.default_rng(1)
    close = 100 * np.exp(rng.standard_normal(n).cumsum() / 1000)  # prices must be positive
    opened = np.roll(close, 1)
    frame = pl.DataFrame({
        "timestamp": pl.datetime_range(dt.datetime(2000, 1, 1), dt.datetime(2000, 1, 1)
                                       + dt.timedelta(minutes=n - 1), "1m", eager=True,
                                       time_unit="ms", time_zone="UTC"),
        "open": opened, "high": np.maximum(opened, close) + 1, "low": np.minimum(opened, close) - 1,
        "close": close, "volume": rng.random(n),
    })
    path = tmp_path / "big.csv"
    frame.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%SZ")
    assert load_ohlcv(path).equals(frame)



# ---------------------------------------------------------------- issue 10.6: hostile CSV files


def test_cr_only_line_endings_load_like_lf(tmp_path: Path) -> None:
    text = HEADER + GOOD + ROW2.format(o=1, h=2, l=0.5, c=1.5, v=10)
    lf = load_ohlcv(write(tmp_path, text, "lf.csv"))
    assert load_ohlcv(write(tmp_path, text.replace("\n", "\r"), "cr.csv")).equals(lf)
    assert lf.height == 2


@pytest.mark.parametrize(("text", "line", "field", "words"), [
    (second_row(o=0, l=0), 3, "open", "open is not positive"),
    (second_row(o=-1, l=-2), 3, "open", "open is not positive"),
    (second_row(l=0, o=0.5), 3, "low", "low is not positive"),
    (second_row(c=-0.0, l=-0.0), 3, "low", "not positive"),
    (HEADER + "1704067200000,1,2,0.5,1.5,10\n99999999999999999,1,2,0.5,1.5,10\n"
     "1704074400000,1,2,0.5,1.5,10\n", 3, "timestamp", "looks like microseconds but most rows"),
    (HEADER + "1704067200000,1,2,0.5,1.5,10\n1704070800,1,2,0.5,1.5,10\n"
     "1704074400000,1,2,0.5,1.5,10\n", 3, "timestamp", "looks like seconds but most rows are in "
     "milliseconds"),
    (HEADER + "1704067200,1,2,0.5,1.5,10\n1704070800,1,2,0.5,1.5,10\n1704074400000,1,2,0.5,1.5,10\n",
     4, "timestamp", "looks like milliseconds but most rows are in seconds"),
    (HEADER + "-9223372036854775808,1,2,0.5,1.5,10\n", 2, "timestamp", "between the years"),
    (HEADER + GOOD + '2024-01-01T01:00:00Z,"1,2,0.5,1.5,10\n' + GOOD.replace("T00", "T02"), 3, None,
     "malformed quoting"),
    (HEADER + GOOD + '2024-01-01T01:00:00Z,1"5,2,0.5,1.5,10\n', 3, None, "malformed quoting"),
])
def test_hostile_rows_name_line_and_field(tmp_path: Path, text: str, line: int, field: str | None,
                                          words: str) -> None:
    err = rejects(tmp_path, text)
    assert (err.row, err.field) == (line, field)
    assert words in err.message


def test_invalid_utf8_in_a_data_row_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes((HEADER + GOOD).encode() + b"2024-01-01T01:00:00Z,1,2,0.5,1.5,\xff\xfe\n")
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    assert info.value.row == 3 and "UTF-8" in info.value.message


@pytest.mark.parametrize(("stamps", "expected"), [
    ([1704067200123456, 1704070800123456], dt.datetime(2024, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)),
    ([1704067200000000000, 1704070800000000000], dt.datetime(2024, 1, 1, tzinfo=UTC)),
])
def test_epoch_micro_and_nanoseconds(tmp_path: Path, stamps: list[int], expected: dt.datetime) -> None:
    df = load_ohlcv(write(tmp_path, HEADER + "".join(f"{s},1,2,0.5,1.5,10\n" for s in stamps)))
    assert df["timestamp"][0] == expected
    assert df["timestamp"][1] - df["timestamp"][0] == dt.timedelta(hours=1)


def test_a_backtest_needs_two_bars(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + GOOD)
    assert load_ohlcv(path).height == 1             # the store reads one-candle files
    with pytest.raises(DataError) as info:
        load_ohlcv(path, min_rows=2)
    assert info.value.exit_code == 3 and info.value.row == 2 and "at least 2" in info.value.message


def test_one_bar_file_exits_3_from_run(tmp_path: Path, capsys) -> None:
    from tradebot.cli import main

    path = write(tmp_path, HEADER + GOOD)
    assert main(["run", str(REPO / "examples" / "rsi.tbs"), "--data", str(path)]) == 3
    assert f"{path}:2: file has 1 data row(s)" in capsys.readouterr().err
