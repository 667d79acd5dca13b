"""The built-in price series: open high low close volume, the usual averages of them, and the bar's
time (what the session VWAP is anchored to) and its position, bar_index."""
from __future__ import annotations

import numpy as np
import polars as pl

from ..builtin_spec import Builtin
from ..types import NUMBER_SERIES
from .support import window

CATEGORY = "price"


def _price(name: str, doc: str, lower, reference, source: str = "the data") -> Builtin:
    return Builtin(name, (), NUMBER_SERIES, lower, reference, doc, f"{name}[1]", CATEGORY, is_series=True,
                   source=source)


def _column(name: str) -> Builtin:
    return _price(name, f"The bar's {name}.", lambda: pl.col(name), lambda bars: np.asarray(bars[name], float))


BUILTINS = (
    _column("open"),
    _column("high"),
    _column("low"),
    _column("close"),
    _column("volume"),
    _price("hl2", "The bar's midpoint, (high + low) / 2.",
           lambda: (pl.col("high") + pl.col("low")) / 2,
           lambda b: (np.asarray(b["high"]) + np.asarray(b["low"])) / 2),
    _price("hlc3", "The typical price, (high + low + close) / 3.",
           lambda: window("typical_price", [pl.col("high"), pl.col("low"), pl.col("close")], summed=True),
           lambda b: (np.asarray(b["high"]) + np.asarray(b["low"]) + np.asarray(b["close"])) / 3),
    _price("ohlc4", "The average of open, high, low and close.",
           lambda: (pl.col("open") + pl.col("high") + pl.col("low") + pl.col("close")) / 4,
           lambda b: (np.asarray(b["open"]) + np.asarray(b["high"]) + np.asarray(b["low"])
                      + np.asarray(b["close"])) / 4),
    _price("time", "The bar's open time in milliseconds since 1970-01-01 00:00 UTC.",
           lambda: pl.col("timestamp").dt.epoch("ms").cast(pl.Float64),
           lambda b: np.asarray(b["timestamp"], float)),
    _price("bar_index", "The bar's position in the data: 0 on the first bar, then 1, 2, ...",
           lambda: pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.Float64),
           lambda b: np.arange(len(b["close"]), dtype=float),
           "TradingView bar_index (counted from the first bar of the data)"),
)
