"""Writes the generated multi-symbol sample: `python data/generated/generate.py`.

Not market data. Five symbols × 3000 hourly bars from one seed: each symbol's log return is a
common market factor times its beta plus its own noise (a one-factor model: crypto majors move
together, correlations of 0.5-0.8 between them), with realistic hourly volatility (0.6-1.2 % per
hour). Each bar's open is the previous close; high and low add a random wick beyond both.
Volume is lognormal. The symbols' data start at staggered times, so the timeline has bars where
some symbols have none.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

SEED = 20240101
BARS = 3000
# symbol: (start price, beta to the market factor, idiosyncratic hourly vol, first bar)
SYMBOLS = {"GENA": (42_000.0, 1.0, 0.003, 0), "GENB": (2_300.0, 1.2, 0.004, 0),
           "GENC": (100.0, 1.5, 0.007, 24), "GEND": (310.0, 0.9, 0.004, 0),
           "GENE": (0.6, 1.3, 0.006, 48)}
MARKET_VOL = 0.006
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def main() -> None:
    rng = np.random.default_rng(SEED)
    market = rng.normal(0.00002, MARKET_VOL, BARS)
    folder = Path(__file__).parent
    start_ms = int(START.timestamp() * 1000)
    for symbol, (price, beta, vol, first) in SYMBOLS.items():
        returns = beta * market + rng.normal(0.0, vol, BARS)
        close = price * np.exp(np.cumsum(returns))
        open_ = np.concatenate([[price], close[:-1]])
        wick = np.abs(rng.normal(0.0, (vol + MARKET_VOL) / 2, (2, BARS)))
        high = np.maximum(open_, close) * (1 + wick[0])
        low = np.minimum(open_, close) * (1 - wick[1])
        volume = rng.lognormal(8.0, 0.5, BARS)
        digits = max(2, 6 - int(np.floor(np.log10(price))))
        lines = ["timestamp,open,high,low,close,volume"]
        for t in range(first, BARS):
            stamp = datetime.fromtimestamp((start_ms + t * 3_600_000) / 1000, timezone.utc)
            lines.append(f"{stamp:%Y-%m-%dT%H:%M:%SZ},{open_[t]:.{digits}f},{high[t]:.{digits}f},"
                         f"{low[t]:.{digits}f},{close[t]:.{digits}f},{volume[t]:.0f}")
        (folder / f"{symbol}_generated_1h.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
