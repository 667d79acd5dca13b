"""Builders shared by the runtime tests: tiny hand-made bar sets, signals by bar index, and the
bundled EURUSD data."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import strategies as st

from tradebot.runtime import ExecutionConfig, Signals

REPO = Path(__file__).resolve().parents[2]
EURUSD = REPO / "data" / "EURUSD_1h.csv"
HOUR_MS = 3_600_000
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def make_bars(opens: Sequence[float], closes: Sequence[float], *,
              highs: Sequence[float] | None = None, lows: Sequence[float] | None = None,
              times_ms: Sequence[int] | None = None) -> pl.DataFrame:
    """Hourly bars (unless `times_ms` is given); high/low enclose open and close unless given."""
    opens = np.asarray(opens, dtype=np.float64)
    closes = np.asarray(closes, dtype=np.float64)
    if times_ms is None:
        times_ms = START_MS + HOUR_MS * np.arange(len(opens), dtype=np.int64)
    return pl.DataFrame({
        "timestamp": pl.Series(np.asarray(times_ms, dtype=np.int64)).cast(pl.Datetime("ms", "UTC")),
        "open": opens,
        "high": np.maximum(opens, closes) if highs is None else np.asarray(highs, dtype=np.float64),
        "low": np.minimum(opens, closes) if lows is None else np.asarray(lows, dtype=np.float64),
        "close": closes,
        "volume": np.ones(len(opens)),
    })


def make_signals(n: int, *, enter_long: Iterable[int] = (), exit_long: Iterable[int] = (),
                 enter_short: Iterable[int] = (), exit_short: Iterable[int] = ()) -> Signals:
    """Signals that are True exactly on the listed bar indices."""
    def flags(bars: Iterable[int]) -> np.ndarray:
        array = np.zeros(n, dtype=np.bool_)
        array[list(bars)] = True
        return array

    return Signals(flags(enter_long), flags(exit_long), flags(enter_short), flags(exit_short))


def load_eurusd() -> pl.DataFrame:
    """The bundled EURUSD hourly bars in the runtime's input schema."""
    frame = pl.read_csv(EURUSD)
    return frame.with_columns(
        pl.col("timestamp").str.to_datetime(time_unit="ms", time_zone="UTC"),
        pl.col("open", "high", "low", "close", "volume").cast(pl.Float64),
    )


@st.composite
def scenarios(draw, *, min_bars: int = 1, max_bars: int = 40):
    """Bars (a positive random walk), four signal arrays and costs."""
    n = draw(st.integers(min_bars, max_bars))
    steps = draw(st.lists(st.floats(-0.2, 0.2), min_size=2 * n, max_size=2 * n))
    drift = draw(st.sampled_from([0.0, 0.0, 0.1]))  # a rally now and then ruins a short
    prices = 100.0 * np.exp(np.cumsum(np.array(steps) + drift))
    opens, closes = prices[0::2], prices[1::2]
    density = draw(st.sampled_from([0.05, 0.2, 0.5]))
    seed = draw(st.integers(0, 2**32 - 1))
    flags = np.random.default_rng(seed).random((4, n)) < density
    config = ExecutionConfig(capital=draw(st.sampled_from([1.0, 10_000.0])),
                             fee=draw(st.sampled_from([0.0, 0.0005, 0.01])),
                             slippage=draw(st.sampled_from([0.0, 0.0001, 0.005])))
    return make_bars(opens, closes), Signals(*flags), config


def money_tolerance(trades: pl.DataFrame, capital: float) -> float:
    """An absolute tolerance for money amounts: 1e-10 of the largest notional traded (at least
    1e-9). A liquidation leaves zero equity only up to the rounding of the notional it closes,
    which two correct ledgers may round differently: the liquidation price comes out of a
    division whose terms cancel, and the naive reference and the engine differed by 1.4e-12 of
    the notional (a short liquidated at twice its entry price, left with 5.7e-7 on 4e5)."""
    # Entry and exit: a short liquidated at twice its entry price closes twice the notional it opened.
    prices = pl.max_horizontal("entry_price", "exit_price")
    notional = float(trades.select((pl.col("qty") * prices).max()).item() or 0.0) if trades.height else 0.0
    return max(1e-9, 1e-10 * max(capital, notional))
