"""The checks every candle frame must pass.

The canonical in-memory frame has exactly the columns in `OHLCV_COLUMNS` (the one bar schema,
`market/bars.py`), in that order, with its dtypes, and timestamps strictly increase. The CSV loader, the Bybit store and the integrity checker all use
`validate_ohlcv`, so "a valid candle file" means the same thing everywhere.

Checks are vectorized; only when one fails do we locate the first bad row, so validating a million
rows costs a few milliseconds.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl

from ..errors import DataError
from ..market.bars import OHLCV_COLUMNS, OHLCV_SCHEMA, PRICE_COLUMNS, VALUE_COLUMNS


@dataclass(frozen=True)
class RowCheck:
    """One vectorized rule: `bad` is True on rows that break it; `message` explains row i.

    `kind` groups rules for reports: missing, not_finite, order, ohlc, price, volume."""

    kind: str
    field: str
    bad: pl.Expr
    message: Callable[[pl.DataFrame, int], str]


def _fmt_ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def _order_message(df: pl.DataFrame, i: int) -> str:
    here, before = df["timestamp"][i], df["timestamp"][i - 1]
    kind = "duplicate timestamp" if here == before else "timestamp goes backwards"
    return f"{kind}: {_fmt_ts(here)} is not after the previous row's {_fmt_ts(before)}"


def _value_message(what: str) -> Callable[[pl.DataFrame, int], str]:
    def message(df: pl.DataFrame, i: int) -> str:
        row = df.row(i, named=True)
        shown = ", ".join(f"{k}={row[k]}" for k in VALUE_COLUMNS)
        return f"{what} ({shown})"

    return message


def _missing_message(df: pl.DataFrame, i: int) -> str:
    return "missing value"


def _not_finite_message(column: str) -> Callable[[pl.DataFrame, int], str]:
    return lambda df, i: f"value is {df[column][i]}; prices and volumes must be finite numbers"


def _row_checks() -> tuple[RowCheck, ...]:
    """The rules in the order they are reported when several fail on the same row."""
    o, h, lo, c, v = (pl.col(n) for n in VALUE_COLUMNS)
    checks: list[RowCheck] = [
        RowCheck("missing", name, pl.col(name).is_null(), _missing_message) for name in OHLCV_COLUMNS
        if name != "volume"
    ]
    # A volume column that is empty throughout means "no volume" (a file without one): scripts
    # that read volume are refused by the pipeline; one empty value among others is an error.
    checks.insert(4, RowCheck("missing", "volume", v.is_null() & v.is_not_null().any(),
                              _missing_message))
    checks += [
        RowCheck("not_finite", name, ~pl.col(name).is_finite(), _not_finite_message(name))
        for name in VALUE_COLUMNS
    ]
    checks += [
        RowCheck("order", "timestamp", pl.col("timestamp").diff() <= pl.duration(), _order_message),
        # high < low implies one of the next two, but names the problem more directly.
        RowCheck("ohlc", "high", h < lo, _value_message("high is below low")),
        RowCheck("ohlc", "high", h < pl.max_horizontal(o, c),
                 _value_message("high is below open/close")),
        RowCheck("ohlc", "low", lo > pl.min_horizontal(o, c),
                 _value_message("low is above open/close")),
        *[RowCheck("price", name, pl.col(name) <= 0, _value_message(f"{name} is not positive"))
          for name in PRICE_COLUMNS],
        RowCheck("volume", "volume", v < 0, _value_message("volume is negative")),
    ]
    return tuple(checks)


ROW_CHECKS: tuple[RowCheck, ...] = _row_checks()
# Rules about one row alone (everything but ordering): what the integrity report lists per line.
VALUE_CHECKS: tuple[RowCheck, ...] = tuple(c for c in ROW_CHECKS if c.kind != "order")


def check_columns(df: pl.DataFrame, path: str | Path) -> None:
    """Raise DataError unless `df` has the canonical columns, order and dtypes."""
    found = dict(df.schema)
    missing = [name for name in OHLCV_COLUMNS if name not in found]
    if missing:
        raise DataError(path, f"missing column(s): {', '.join(missing)}",
                        hint=f"found columns: {', '.join(found) or '(none)'}")
    for name, dtype in OHLCV_SCHEMA.items():
        if found[name] != dtype:
            raise DataError(path, f"column has type {found[name]}, expected {dtype}", field=name)


def first_violation(df: pl.DataFrame) -> tuple[int, RowCheck] | None:
    """The earliest (row index, rule) that fails, or None when every row passes every rule."""
    flags = df.select([check.bad.fill_null(False).alias(str(k)) for k, check in enumerate(ROW_CHECKS)])
    failing = [k for k, hit in enumerate(flags.select(pl.all().any()).row(0)) if hit]
    if not failing:
        return None
    # Only now do we pay for locating rows: one arg_max per failing rule.
    located = [(int(flags[str(k)].arg_max() or 0), k) for k in failing]
    index, k = min(located)
    return index, ROW_CHECKS[k]


def validate_ohlcv(df: pl.DataFrame, path: str | Path, *, first_line: int = 2) -> pl.DataFrame:
    """Return `df` unchanged if it is a valid OHLCV frame, else raise DataError for its first bad row.

    `first_line` is the file line of row 0 (2 for a CSV with a header), so the error names the
    line a user sees in an editor; pass 1 for frames that never came from a file.
    """
    check_columns(df, path)
    found = first_violation(df.select(OHLCV_COLUMNS))
    if found is None:
        return df
    index, check = found
    raise DataError(path, check.message(df, index), row=index + first_line, field=check.field)

