"""CSV loading speed: `load_ohlcv` (parse + validate) on 1M bars, vs a bare `pl.read_csv`.

    .venv/bin/python bench/bench_loader.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, synthetic_bars, table, write_csv  # noqa: E402

from tradebot.data.loader import load_ohlcv  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bars = synthetic_bars(1_000_000)
        path = write_csv(bars, Path(tmp) / "bars.csv")
        ours = best_of(lambda: load_ohlcv(path))
        bare = best_of(lambda: pl.read_csv(path))
        # Vendor layouts (docs/data.md): TradingView's epoch seconds, MetaTrader's date + time.
        tv = Path(tmp) / "tv.csv"
        bars.select(pl.col("timestamp").dt.epoch("s").alias("time"), "open", "high", "low",
                    "close", pl.col("volume").alias("Volume")).write_csv(tv)
        mt4 = Path(tmp) / "mt4.csv"
        bars.select(pl.col("timestamp").dt.strftime("%Y.%m.%d"),
                    pl.col("timestamp").dt.strftime("%H:%M").alias("t"), "open", "high", "low",
                    "close", "volume").write_csv(mt4, include_header=False)
        tradingview, metatrader = best_of(lambda: load_ohlcv(tv)), best_of(lambda: load_ohlcv(mt4))
    print(table(["what", "seconds"], [["load_ohlcv (parse + validate), 1M bars", ours],
                                      ["pl.read_csv alone, 1M bars", bare],
                                      ["load_ohlcv, TradingView layout, 1M bars", tradingview],
                                      ["load_ohlcv, MetaTrader 4 (no header), 1M bars", metatrader]]))


if __name__ == "__main__":
    main()
