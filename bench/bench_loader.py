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
        path = write_csv(synthetic_bars(1_000_000), Path(tmp) / "bars.csv")
        ours = best_of(lambda: load_ohlcv(path))
        bare = best_of(lambda: pl.read_csv(path))
    print(table(["what", "seconds"], [["load_ohlcv (parse + validate), 1M bars", ours],
                                      ["pl.read_csv alone, 1M bars", bare]]))


if __name__ == "__main__":
    main()
