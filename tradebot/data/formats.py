"""Which columns of a CSV file hold the candle, recognised from its first lines (docs/data.md has
the table of vendor formats).

A file has a header whose names are matched against synonyms (`time`, `Date`, `open_time`,
`<DATE>` + `<TIME>`, `Adj Close` ignored, ...), or no header, when its first line is all numbers
and dates: then the columns are told apart by their values (Binance klines: an epoch integer
and 11 more numbers; MetaTrader: `2017.04.19,09:00,o,h,l,c,v`; otherwise time,o,h,l,c[,v]).
The separator is a tab or a semicolon when the first line has one, else a comma.

Only the first line is read here; the loader then parses the whole file once.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from ..errors import DataError
from .access import header_excerpt
from ..market.bars import OHLCV_COLUMNS, PRICE_COLUMNS

# Header names, normalised (lower case, letters and digits only), most specific first.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "datetime", "opentime", "time", "date", "ts", "unix"),
    "open": ("open", "o", "openprice"),
    "high": ("high", "h", "highprice"),
    "low": ("low", "l", "lowprice"),
    "close": ("close", "c", "closeprice", "last"),
    # MetaTrader 5 writes <TICKVOL> and <VOL>; for FX only the tick volume is filled in.
    "volume": ("volume", "tickvol", "tickvolume", "vol", "v"),
}
_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_INTEGER = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}[-./]\d\d[-./]\d\d([T ].*)?$")
_TIME_OF_DAY = re.compile(r"^\d\d?:\d\d(:\d\d)?$")


@dataclass(frozen=True)
class Layout:
    """Where each canonical column is: `fields[name]` is its 0-based field index (volume may be
    absent); `time_of_day` is a separate time column joined to the date (MetaTrader)."""

    name: str
    separator: str
    has_header: bool
    width: int
    fields: dict[str, int]
    time_of_day: int | None = None
    names: tuple[str, ...] = ()  # the header's names (empty without a header)

    @property
    def has_volume(self) -> bool:
        return "volume" in self.fields

    def describe(self, timestamps: str) -> str:
        """What was recognised, for the log: `open_time (epoch ms) -> timestamp, ...`."""
        def label(index: int) -> str:
            return self.names[index] if self.names else f"field {index + 1}"

        when = label(self.fields["timestamp"])
        if self.time_of_day is not None:
            when += " + " + label(self.time_of_day)
        used = set(self.fields.values()) | {self.time_of_day}
        ignored = [label(i) for i in range(self.width) if i not in used]
        text = (f"recognised {self.name}: {when} ({timestamps}) -> timestamp; "
                + ", ".join(f"{label(self.fields[n])} -> {n}" for n in OHLCV_COLUMNS[1:]
                            if n in self.fields))
        if not self.has_volume:
            text += "; no volume column"
        return text + (f"; ignored: {', '.join(ignored)}" if ignored else "")


def sniff(data: bytes, path: object) -> Layout:
    """The layout of a CSV file from its first lines (DataError when none fits)."""
    first = data[:65536].split(b"\n", 1)[0]
    try:
        line = first.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise DataError(path, "not a UTF-8 text file", row=1) from None
    if not line.strip():
        raise DataError(path, "file is empty", hint="expected a header line: "
                        + ",".join(OHLCV_COLUMNS))
    separator = "\t" if "\t" in line else ";" if ";" in line else ","
    fields = _fields(line, separator)
    if all(_is_value(field) for field in fields):
        return _headerless(fields, separator, path)
    return _from_header(fields, separator, path)


def _fields(line: str, separator: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=separator), [])
    except csv.Error:  # a stray CR or NUL: the loader names the line once polars refuses it
        return line.split(separator)


def _is_value(field: str) -> bool:
    field = field.strip()
    return bool(_NUMBER.match(field) or _DATE.match(field) or _TIME_OF_DAY.match(field))


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _from_header(header: list[str], separator: str, path: object) -> Layout:
    normal = [_normal(name) for name in header]
    fields: dict[str, int] = {}
    time_of_day = None
    if "date" in normal and "time" in normal and not {"timestamp", "datetime"} & set(normal):
        fields["timestamp"], time_of_day = normal.index("date"), normal.index("time")
    for column, synonyms in SYNONYMS.items():
        if column in fields:
            continue
        for synonym in synonyms:
            if synonym in normal and normal.index(synonym) not in fields.values():
                fields[column] = normal.index(synonym)  # the first column of that name
                break
    missing = [name for name in ("timestamp", *PRICE_COLUMNS) if name not in fields]
    if missing:
        shown = header_excerpt(", ".join(header))
        found = f"found columns: {shown}; " if shown else \
            "the first line does not look like a CSV header; "
        raise DataError(path, f"missing column(s): {', '.join(missing)}", row=1,
                        hint=found + f"expected {', '.join(OHLCV_COLUMNS)} (any case, any "
                        "order; volume optional) or a format listed in docs/data.md")
    return Layout(_vendor(header, normal, fields), separator, True, len(header), fields,
                  time_of_day, tuple(name.strip() for name in header))


def _vendor(header: list[str], normal: list[str], fields: dict[str, int]) -> str:
    """A name for the log: which export this header looks like."""
    if list(normal) == list(OHLCV_COLUMNS):
        return "the standard layout"
    if list(normal) == list(OHLCV_COLUMNS[:-1]):
        return "the standard layout without volume"
    if normal[fields["timestamp"]] == "opentime":
        return "Binance klines"
    if any(name.strip().startswith("<") for name in header) or "tickvol" in normal:
        return "MetaTrader"
    if "adjclose" in normal:
        return "Yahoo"
    if normal[fields["timestamp"]] == "time":
        return "TradingView"
    return "a header"


def _headerless(values: list[str], separator: str, path: object) -> Layout:
    """No header: tell the columns apart by the first line's values."""
    width = len(values)
    first = [value.strip() for value in values]
    if width >= 6 and _DATE.match(first[0]) and _TIME_OF_DAY.match(first[1]):
        fields = dict(zip(("timestamp", *PRICE_COLUMNS, "volume"), (0, 2, 3, 4, 5, 6)))
        return Layout("MetaTrader (no header)", separator, False, width,
                      {k: v for k, v in fields.items() if v < width}, time_of_day=1)
    if width >= 5 and (_DATE.match(first[0]) or _INTEGER.match(first[0])) \
            and all(_NUMBER.match(f) for f in first[1:5]):
        name = "Binance klines (no header)" if width == 12 and _INTEGER.match(first[0]) \
            else "time, open, high, low, close[, volume] (no header)"
        fields = {name: i for i, name in enumerate(OHLCV_COLUMNS) if i < width}
        return Layout(name, separator, False, width, fields)
    raise DataError(path, "no header, and the first line is not time, open, high, low, close",
                    row=1, hint=f"add a header line: {','.join(OHLCV_COLUMNS)}")
