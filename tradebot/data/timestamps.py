"""Times in a CSV column -> `Datetime("ms", "UTC")`, or a DataError naming the first bad row.

ISO-8601 in its common spellings (`2024-01-01T00:00:00Z`, `+02:00` offsets, naive = UTC, a space
instead of `T`, fractional seconds, a bare date; MetaTrader's `2017.04.19 09:00`) or epoch integers,
whose unit follows from their size (EPOCH_UNITS). The fast path parses with the one format the
first value suggests; only what that leaves unparsed pays for the general normalisation.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import DataError
from .access import value_excerpt
from ..market.bars import TIMESTAMP_DTYPE

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
    (r"^\d{4}\.\d\d\.\d\d \d\d:\d\d$", "%Y.%m.%d %H:%M"),           # MetaTrader
    (r"^\d{4}\.\d\d\.\d\d \d\d:\d\d:\d\d$", "%Y.%m.%d %H:%M:%S"),
)


def parse_timestamps(column: pl.Series, path: Path, first_line: int) -> tuple[pl.Series, str]:
    """Text times -> UTC; and what they were (for the log): epoch with its unit, or ISO-8601."""
    first = column.drop_nulls().head(1).str.strip_chars()
    if first.len() and first.str.contains(_EPOCH_PATTERN).all():
        stamps, unit = _parse_epoch(column.str.strip_chars(), path, first_line)
        expected, kind = "an epoch integer like the first row", f"epoch {unit}"
    else:
        stamps = _parse_iso(column)
        expected = "an ISO-8601 time like the first row (e.g. 2024-01-01T00:00:00Z)"
        kind = "date and time"
    raise_unparsed(column, stamps, path, first_line, expected=expected)
    return stamps, kind


def _parse_epoch(text: pl.Series, path: Path, first_line: int) -> tuple[pl.Series, str]:
    """Epoch integers -> UTC times; each value's unit follows from its size (EPOCH_UNITS), and one
    column must use one unit, so seconds mixed into milliseconds cannot pass as 1970 dates."""
    numbers = text.cast(pl.Int64, strict=False)
    size = numbers.clip(-(2**63 - 1)).abs()  # Int64's minimum has no Int64 absolute value
    unit_index = pl.select(pl.when(pl.lit(size).is_not_null()).then(pl.sum_horizontal(
        *[(size >= bound).cast(pl.Int8) for bound, _ in EPOCH_UNITS[1:]]))).to_series()
    present = unit_index.drop_nulls()
    if present.len() == 0:
        return numbers.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"), "seconds"
    counts = dict(present.value_counts().iter_rows())
    unit = max(present.unique(maintain_order=True).to_list(), key=counts.__getitem__)  # tie: first
    if len(counts) > 1:
        odd = int((unit_index != unit).fill_null(False).arg_max() or 0)
        raise DataError(path, f"epoch {value_excerpt(text[odd])} looks like "
                        f"{EPOCH_UNITS[int(unit_index[odd])][1]} but most rows are in "
                        f"{EPOCH_UNITS[unit][1]}", row=odd + first_line, field=text.name,
                        hint="one column must use one unit: " + EPOCH_RULE)
    millis = numbers * 1000 if unit == 0 else numbers // 1000 ** (unit - 1)
    outside = (millis < EPOCH_RANGE_MS[0]) | (millis > EPOCH_RANGE_MS[1])
    if outside.any():
        odd = int(outside.fill_null(False).arg_max() or 0)
        raise DataError(path, f"epoch {value_excerpt(text[odd])} ({EPOCH_UNITS[unit][1]}) is not "
                        "between the years 1800 and 2500", row=odd + first_line,
                        field=text.name, hint=EPOCH_RULE)
    return millis.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"), EPOCH_UNITS[unit][1]


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
    text = text.str.strip_chars().str.replace(r"^(\d{4})[./](\d\d)[./](\d\d)", "$1-$2-$3")
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


def raise_unparsed(raw: pl.Series, parsed: pl.Series, path: Path, first_line: int, *,
                   expected: str) -> None:
    """Raise for the first value that was present in the file but did not parse."""
    if parsed.null_count() == raw.null_count():
        return
    bad = (parsed.is_null() & raw.is_not_null()).arg_max()
    index = int(bad or 0)
    raise DataError(path, f"cannot parse {value_excerpt(raw[index])} as {expected}",
                    row=index + first_line, field=raw.name)

