"""Read an OHLCV CSV file into the canonical frame (see `schema.py`), or say exactly what is wrong.

Accepted input:
- a header row naming `timestamp, open, high, low, close, volume` in any case and any order; other
  columns are ignored;
- timestamps either ISO-8601 (`2024-01-01T00:00:00Z`, `+02:00` offsets, naive = UTC, a space instead of
  `T`, fractional seconds, or a bare date `2024-01-01`) or epoch integers, whose unit follows from
  their size (EPOCH_UNITS: 10**11 s is the year 5138 and 10**11 ms is March 1973, so real data is
  never ambiguous); a column mixing units is refused at its first odd row;
- blank lines at the end of the file.

Every rejection is a `DataError` naming the file, the 1-based line (the header is line 1) and the
field. The fast path is polars' CSV reader plus vectorized checks; the slow work of finding the bad
line happens only after something has already failed.
"""
from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from ..errors import DataError
from ..market.bars import OHLCV_COLUMNS, TIMESTAMP_DTYPE, VALUE_COLUMNS, empty_ohlcv
from .access import header_excerpt, read_regular_file, value_excerpt
from .schema import validate_ohlcv

FIRST_DATA_LINE = 2
# Epoch unit by size: below 10^11 seconds (10^11 s is the year 5138), below 10^14 milliseconds
# (10^11 ms is March 1973), below 10^17 microseconds (Binance since 2025), else nanoseconds.
EPOCH_UNITS = ((0, "seconds"), (10**11, "milliseconds"), (10**14, "microseconds"),
               (10**17, "nanoseconds"))
EPOCH_RANGE_MS = (-5_364_662_400_000, 16_725_225_600_000)  # 1800-01-01 .. 2500-01-01
EPOCH_RULE = ("below 10^11 is seconds, below 10^14 milliseconds, below 10^17 microseconds, "
              "else nanoseconds")
_EPOCH_PATTERN = r"^-?\d+$"
# chrono's %#z accepts `Z`, `+hh`, `+hhmm` and `+hh:mm`; a naive time gets a `Z` appended first.
_ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")
_HAS_OFFSET = r"(?i)(z|[+-]\d\d(:?\d\d)?)$"
# The common spellings parse ~5x faster with an exact format than with the general one above.
_FAST_FORMATS = (
    (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", "%Y-%m-%dT%H:%M:%SZ"),
    (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", "%Y-%m-%dT%H:%M:%S"),
    (r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", "%Y-%m-%d %H:%M:%S"),
)


def load_ohlcv(path: str | Path, *, allow_empty: bool = False, min_rows: int = 1) -> pl.DataFrame:
    """Load and validate an OHLCV CSV; the result has the canonical schema and order.

    A file with a header but no rows is an error unless `allow_empty` (the store uses that);
    `min_rows`: fewer valid rows is an error (a backtest needs 2 bars).
    """
    path = Path(path)
    frame = parse_ohlcv_bytes(read_bytes(path), path)
    if frame.height == 0 and not allow_empty:
        raise DataError(path, "file has a header but no data rows")
    frame = validate_ohlcv(frame, path, first_line=FIRST_DATA_LINE)
    if 0 < frame.height < min_rows:
        raise DataError(path, f"file has {frame.height} data row(s); at least {min_rows} are needed",
                        row=FIRST_DATA_LINE + frame.height - 1,
                        hint="a backtest needs at least 2 bars: use a longer file")
    return frame


def read_bytes(path: Path) -> bytes:
    """The whole file, or a DataError a user can act on (regular files only: see access.py)."""
    return read_regular_file(path)


def parse_ohlcv_bytes(data: bytes, path: str | Path) -> pl.DataFrame:
    """CSV bytes -> canonical columns and dtypes, WITHOUT the order/OHLC checks of validate_ohlcv.

    Raises DataError for what cannot be typed at all (empty input, missing columns, a value that
    is not a number or a time). The integrity checker uses this to report every problem at once.
    """
    raw = _read_raw(_unix_line_ends(data), Path(path))
    if raw.height == 0:
        return empty_ohlcv()
    return raw.select(
        _parse_timestamps(raw["timestamp"], Path(path)).alias("timestamp"),
        *(_parse_numbers(raw[name], Path(path)).alias(name) for name in VALUE_COLUMNS),
    )


def _unix_line_ends(data: bytes) -> bytes:
    """Old Mac files end lines with a lone CR, which neither polars nor csv reads: make them LF.
    Only a file with no LF at all pays for the copy."""
    if b"\n" in data[:65536] or b"\r" not in data or b"\n" in data:
        return data
    return data.replace(b"\r", b"\n")


def _read_raw(data: bytes, path: Path) -> pl.DataFrame:
    """The six columns, renamed to lower case: prices already Float64 when the file is clean,
    strings otherwise (so the bad value can be located); trailing blank lines dropped."""
    header = _read_header(data, path)
    wanted = {name.strip().lower(): name for name in reversed(header)}  # first spelling wins
    missing = [name for name in OHLCV_COLUMNS if name not in wanted]
    if missing:
        raise DataError(path, f"missing column(s): {', '.join(missing)}", row=1,
                        hint=_found_columns(header) + f"expected "
                             f"{', '.join(OHLCV_COLUMNS)} (any case, any order)")
    columns = [wanted[n] for n in OHLCV_COLUMNS]
    typed = {wanted["timestamp"]: pl.String, **{wanted[n]: pl.Float64 for n in VALUE_COLUMNS}}
    try:
        raw = pl.read_csv(data, columns=columns, schema_overrides=typed)
    except pl.exceptions.ComputeError:
        # Some value is not a number (or a line is ragged): re-read as text to find out where.
        try:
            raw = pl.read_csv(data, columns=columns, infer_schema=False)
        except pl.exceptions.ComputeError:
            raise _locate_bad_line(data, path, len(header)) or DataError(
                path, "malformed CSV", hint="check the quoting and the number of fields on each "
                "line") from None
    raw = raw.rename({wanted[n]: n for n in OHLCV_COLUMNS})
    return _drop_trailing_blank_rows(raw)


def _read_header(data: bytes, path: Path) -> list[str]:
    first = data.split(b"\n", 1)[0]
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(path, "not a UTF-8 text file", row=1) from None
    if not text.strip():
        raise DataError(path, "file is empty", hint="expected a header line: "
                        + ",".join(OHLCV_COLUMNS))
    return next(csv.reader([text.rstrip("\r")]))


def _found_columns(header: list[str]) -> str:
    """The header as found, only if it looks like one (never echo an arbitrary file's line)."""
    shown = header_excerpt(", ".join(header))
    return f"found columns: {shown}; " if shown else "the first line does not look like a CSV header; "


def _locate_bad_line(data: bytes, path: Path, width: int) -> DataError | None:
    """After polars refused the file: the first line that is not UTF-8, has an unbalanced quote,
    or has more fields than the header. Runs only on a file that already failed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return DataError(path, "line is not valid UTF-8 text", row=data.count(b"\n", 0, exc.start) + 1)
    for line_no, line in enumerate(text.splitlines(), start=1):
        try:
            fields = next(csv.reader([line], strict=True), [])
        except csv.Error:
            fields = None
        if fields is None or line.count('"') % 2:
            return DataError(path, "malformed quoting (a quote is not closed, or stands inside a "
                             "field)", row=line_no, hint='quote a whole field: "1.5"')
        if len(fields) > width:
            return DataError(path, f"line has {len(fields)} fields but the header has {width}",
                             row=line_no)
    return None


def _drop_trailing_blank_rows(raw: pl.DataFrame) -> pl.DataFrame:
    filled = raw.select(pl.any_horizontal(pl.all().is_not_null()).alias("filled"))["filled"]
    if filled.len() == 0 or filled[-1]:
        return raw
    last_filled = filled.len() - 1 - int(filled.reverse().arg_max() or 0)
    return raw.head(last_filled + 1 if filled.any() else 0)


def _parse_numbers(column: pl.Series, path: Path) -> pl.Series:
    if column.dtype == pl.Float64:
        return column
    values = column.str.strip_chars().cast(pl.Float64, strict=False)
    _raise_unparsed(column, values, path, expected="a number")
    return values


def _parse_timestamps(column: pl.Series, path: Path) -> pl.Series:
    first = column.drop_nulls().head(1).str.strip_chars()
    if first.len() and first.str.contains(_EPOCH_PATTERN).all():
        stamps = _parse_epoch(column.str.strip_chars(), path)
        expected = "an epoch integer like the first row"
    else:
        stamps = _parse_iso(column)
        expected = "an ISO-8601 time like the first row (e.g. 2024-01-01T00:00:00Z)"
    _raise_unparsed(column, stamps, path, expected=expected)
    return stamps


def _parse_epoch(text: pl.Series, path: Path) -> pl.Series:
    """Epoch integers -> UTC times; each value's unit follows from its size (EPOCH_UNITS), and one
    column must use one unit, so seconds mixed into milliseconds cannot pass as 1970 dates."""
    numbers = text.cast(pl.Int64, strict=False)
    size = numbers.clip(-(2**63 - 1)).abs()  # Int64's minimum has no Int64 absolute value
    unit_index = pl.select(pl.when(pl.lit(size).is_not_null()).then(pl.sum_horizontal(
        *[(size >= bound).cast(pl.Int8) for bound, _ in EPOCH_UNITS[1:]]))).to_series()
    present = unit_index.drop_nulls()
    if present.len() == 0:
        return numbers.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    counts = dict(present.value_counts().iter_rows())
    unit = max(present.unique(maintain_order=True).to_list(), key=counts.__getitem__)  # tie: first
    if len(counts) > 1:
        odd = int((unit_index != unit).fill_null(False).arg_max() or 0)
        raise DataError(path, f"epoch {value_excerpt(text[odd])} looks like "
                        f"{EPOCH_UNITS[int(unit_index[odd])][1]} but most rows are in "
                        f"{EPOCH_UNITS[unit][1]}", row=odd + FIRST_DATA_LINE, field=text.name,
                        hint="one column must use one unit: " + EPOCH_RULE)
    millis = numbers * 1000 if unit == 0 else numbers // 1000 ** (unit - 1)
    outside = (millis < EPOCH_RANGE_MS[0]) | (millis > EPOCH_RANGE_MS[1])
    if outside.any():
        odd = int(outside.fill_null(False).arg_max() or 0)
        raise DataError(path, f"epoch {value_excerpt(text[odd])} ({EPOCH_UNITS[unit][1]}) is not "
                        "between the years 1800 and 2500", row=odd + FIRST_DATA_LINE,
                        field=text.name, hint=EPOCH_RULE)
    return millis.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def _parse_iso(text: pl.Series) -> pl.Series:
    """Parse with the one format the first value suggests (fast); normalise only what is left."""
    stamps = text.str.strptime(TIMESTAMP_DTYPE, _guess_format(text), strict=False)
    if stamps.null_count() > text.null_count():
        stamps = stamps.fill_null(_parse_iso_general(text))
    return stamps


def _guess_format(text: pl.Series) -> str:
    first = text.drop_nulls().head(1)
    for pattern, fmt in _FAST_FORMATS:
        if first.str.contains(pattern).all():
            return fmt
    return _ISO_FORMATS[0]


def _parse_iso_general(text: pl.Series) -> pl.Series:
    """Any accepted ISO-8601 spelling: dates get midnight, naive times get `Z`, then parse."""
    text = text.str.strip_chars()
    normal = (
        pl.when(text.str.len_chars() == 10).then(text + "T00:00:00").otherwise(text)
        .str.replace(" ", "T", literal=True)
    )
    normal = pl.when(normal.str.contains(_HAS_OFFSET)).then(normal).otherwise(normal + "Z")
    normalised = pl.select(normal.alias("t")).to_series()
    stamps = normalised.str.strptime(TIMESTAMP_DTYPE, _ISO_FORMATS[0], strict=False)
    if stamps.null_count() > text.null_count():
        # Rare: minute precision (`2024-01-01T10:30Z`); only then pay for the second format.
        fallback = normalised.str.strptime(TIMESTAMP_DTYPE, _ISO_FORMATS[1], strict=False)
        stamps = stamps.fill_null(fallback)
    return stamps


def _raise_unparsed(raw: pl.Series, parsed: pl.Series, path: Path, *, expected: str) -> None:
    """Raise for the first value that was present in the file but did not parse."""
    if parsed.null_count() == raw.null_count():
        return
    bad = (parsed.is_null() & raw.is_not_null()).arg_max()
    index = int(bad or 0)
    raise DataError(path, f"cannot parse {value_excerpt(raw[index])} as {expected}",
                    row=index + FIRST_DATA_LINE, field=raw.name)

