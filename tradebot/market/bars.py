"""The one bar schema: the columns of a candle frame, their order and dtypes.

`timestamp` is the candle's open time as `Datetime("ms", "UTC")`; the other five are `Float64`.
The checks a frame must pass live with the data layer (`data/schema.py`); the names live here so
the runtime and the language agree with the data on what a bar is.
"""
from __future__ import annotations

import polars as pl

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
VALUE_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
OHLCV_COLUMNS: tuple[str, ...] = ("timestamp", *VALUE_COLUMNS)
TIMESTAMP_DTYPE = pl.Datetime("ms", "UTC")
OHLCV_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": TIMESTAMP_DTYPE,
    **{name: pl.Float64() for name in VALUE_COLUMNS},
}


def empty_ohlcv() -> pl.DataFrame:
    """A frame with the canonical schema and no rows."""
    return pl.DataFrame(schema=OHLCV_SCHEMA)
