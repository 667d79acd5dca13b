"""Read an OHLCV CSV file into the canonical frame (see `schema.py`), or say exactly what is wrong.

Accepted input (formats.py recognises the layout from the first lines; docs/data.md has the table):
- a header naming `timestamp, open, high, low, close, volume` or a synonym of each (`time`, `Date`,
  `open_time`, `<DATE>` + `<TIME>`, `<TICKVOL>`...) in any case and any order, other columns ignored;
  or no header, when the columns are told apart by their values (Binance klines, MetaTrader,
  time/open/high/low/close/volume);
- comma, semicolon or tab separators; LF, CRLF or CR-only line ends; a UTF-8 byte-order mark;
- no volume column: volume is then missing throughout (null), and a script that reads volume is
  refused by the pipeline;
- times as ISO-8601 or epoch integers (timestamps.py); blank lines at the end of the file.

Every rejection is a `DataError` naming the file, the 1-based line (a header is line 1) and the
field. The fast path is one polars CSV read plus vectorized checks; the slow work of finding the
bad line happens only after something has already failed.
"""
from __future__ import annotations

import codecs
import csv
import logging
from pathlib import Path

import polars as pl

from ..errors import DataError
from ..market.bars import OHLCV_COLUMNS, VALUE_COLUMNS, empty_ohlcv
from . import cache
from .access import read_regular_file
from .formats import Layout, sniff
from .schema import validate_ohlcv
from .timestamps import parse_timestamps, raise_unparsed

log = logging.getLogger(__name__)

FIRST_DATA_LINE = 2  # of a file with a header


def load_ohlcv(path: str | Path, *, allow_empty: bool = False, min_rows: int = 1,
               cache_dir: Path | None = None) -> pl.DataFrame:
    """Load and validate an OHLCV CSV; the result has the canonical schema and order.

    A file with a header but no rows is an error unless `allow_empty` (the store uses that);
    `min_rows`: fewer valid rows is an error (a backtest needs 2 bars). `cache_dir`: keep the
    validated frame there and reuse it while the file's content is unchanged (cache.py says why a
    hit is never stale).
    """
    path = Path(path)
    mapped = cache.mapped_key(path) if cache_dir else None
    hit = cache.lookup(cache_dir, path, mapped) if mapped else None
    if hit is not None and hit.height >= min_rows:  # else: parse, for the error with its line
        log.debug("%s: the validated frame from the cache", path)
        return hit
    data = read_bytes(path)
    key = cache.SourceKey.of(data, path.stat()) if cache_dir and len(data) >= cache.MIN_BYTES else None
    if key != mapped:  # the file changed since it was mapped: its entry is looked up again
        hit = cache.lookup(cache_dir, path, key) if key else None
    frame, layout = parse_with_layout(data, path)
    if frame.height == 0 and not allow_empty:
        raise DataError(path, "file has a header but no data rows")
    first_line = 1 + layout.has_header
    # One chunk per column: a kernel or `to_numpy` reads it in place, where 46 chunks (what the CSV
    # reader makes of a million rows) are joined into a copy at every read; the cache keeps it so.
    frame = validate_ohlcv(frame, path, first_line=first_line).rechunk()
    if 0 < frame.height < min_rows:
        raise DataError(path, f"file has {frame.height} data row(s); at least {min_rows} are needed",
                        row=first_line + frame.height - 1,
                        hint="a backtest needs at least 2 bars: use a longer file")
    if key and hit is None and frame.height:
        cache.store(cache_dir, path, key, frame)  # (a hit with too few rows is not rewritten)
    return frame


def read_bytes(path: Path) -> bytes:
    """The whole file, or a DataError a user can act on (regular files only: see access.py)."""
    return read_regular_file(path)


def parse_ohlcv_bytes(data: bytes, path: str | Path) -> pl.DataFrame:
    """CSV bytes -> canonical columns and dtypes, WITHOUT the order/OHLC checks of validate_ohlcv.

    Raises DataError for what cannot be typed at all (empty input, missing columns, a value that
    is not a number or a time). The integrity checker uses this to report every problem at once.
    """
    return parse_with_layout(data, path)[0]


def parse_with_layout(data: bytes, path: str | Path) -> tuple[pl.DataFrame, Layout]:
    """`parse_ohlcv_bytes`, and the layout that was recognised."""
    path = Path(path)
    data = _unix_line_ends(data.removeprefix(codecs.BOM_UTF8))
    layout = sniff(data, path)
    raw = _read_raw(data, path, layout)
    if raw.height == 0:
        return empty_ohlcv(), layout
    first_line = 1 + layout.has_header
    stamps, kind = parse_timestamps(raw["timestamp"], path, first_line)
    log.log(logging.DEBUG if layout.name == "the standard layout" else logging.INFO,
            "%s: %s", path, layout.describe(kind))
    volume = (_parse_numbers(raw["volume"], path, first_line, layout.separator)
              if layout.has_volume else pl.lit(None, pl.Float64))
    return raw.select(
        stamps.alias("timestamp"),
        *(_parse_numbers(raw[name], path, first_line, layout.separator).alias(name)
          for name in VALUE_COLUMNS[:-1]),
        volume.alias("volume"),
    ), layout


def _unix_line_ends(data: bytes) -> bytes:
    """Old Mac files end lines with a lone CR, which neither polars nor csv reads: make them LF.
    Only a file with no LF at all pays for the copy."""
    if b"\n" in data[:65536] or b"\r" not in data or b"\n" in data:
        return data
    return data.replace(b"\r", b"\n")


def _read_raw(data: bytes, path: Path, layout: Layout) -> pl.DataFrame:
    """The layout's columns under their canonical names (the time of day joined to the date):
    prices already Float64 when the file is clean, strings otherwise (so the bad value can be
    located); trailing blank lines dropped."""
    body = data.find(b"\n") + 1 if layout.has_header else 0
    if body == 0 and layout.has_header or not data[body:body + 4096].strip() \
            and not data[body:].strip():
        return pl.DataFrame(schema={name: pl.String for name in OHLCV_COLUMNS})  # no rows
    names = [name for name in OHLCV_COLUMNS if name in layout.fields]
    indices = [layout.fields[name] for name in names]
    if layout.time_of_day is not None:
        names.append("time_of_day")
        indices.append(layout.time_of_day)
    typed = [pl.String] * layout.width
    for name, index in zip(names, indices):
        if name in VALUE_COLUMNS:
            typed[index] = pl.Float64
    options = dict(separator=layout.separator, has_header=False, skip_rows=int(layout.has_header),
                   columns=indices, quote_char='"')
    try:
        raw = pl.read_csv(data, schema_overrides=typed, **options)
    except pl.exceptions.PolarsError:
        # Some value is not a number (or a line is ragged): re-read as text to find out where.
        try:
            raw = pl.read_csv(data, infer_schema=False, **options)
        except pl.exceptions.PolarsError:
            raise _locate_bad_line(data, path, layout) or DataError(
                path, "malformed CSV", hint="check the quoting and the number of fields on each "
                "line") from None
    raw.columns = names
    if layout.time_of_day is not None:
        raw = raw.with_columns(pl.concat_str("timestamp", "time_of_day", separator=" ")
                               .alias("timestamp")).drop("time_of_day")
    return _drop_trailing_blank_rows(raw)


def _locate_bad_line(data: bytes, path: Path, layout: Layout) -> DataError | None:
    """After polars refused the file: the first line that is not UTF-8, has an unbalanced quote,
    or has more fields than the header. Runs only on a file that already failed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return DataError(path, "line is not valid UTF-8 text", row=data.count(b"\n", 0, exc.start) + 1)
    for line_no, line in enumerate(text.splitlines(), start=1):
        try:
            fields = next(csv.reader([line], delimiter=layout.separator, strict=True), [])
        except csv.Error:
            fields = None
        if fields is None or line.count('"') % 2:
            return DataError(path, "malformed quoting (a quote is not closed, or stands inside a "
                             "field)", row=line_no, hint='quote a whole field: "1.5"')
        if len(fields) > layout.width:
            first = "the header" if layout.has_header else "the first line"
            return DataError(path, f"line has {len(fields)} fields but {first} has "
                             f"{layout.width}", row=line_no)
    return None


def _drop_trailing_blank_rows(raw: pl.DataFrame) -> pl.DataFrame:
    filled = raw.select(pl.any_horizontal(pl.all().is_not_null()).alias("filled"))["filled"]
    if filled.len() == 0 or filled[-1]:
        return raw
    last_filled = filled.len() - 1 - int(filled.reverse().arg_max() or 0)
    return raw.head(last_filled + 1 if filled.any() else 0)


def _parse_numbers(column: pl.Series, path: Path, first_line: int, separator: str) -> pl.Series:
    if column.dtype == pl.Float64:
        return column
    text = column.str.strip_chars()
    if separator != ",":  # a `;` or tab file may write decimal commas: 1,0712
        text = text.str.replace(",", ".", literal=True)
    values = text.cast(pl.Float64, strict=False)
    raise_unparsed(column, values, path, first_line, expected="a number")
    return values
