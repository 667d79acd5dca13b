"""Backtest entry point: bars and signals in, trades, equity curve and metrics out.

`run_backtest` checks the input contract, hands plain numpy arrays to the compiled kernel
(`kernel.simulate`), and turns the kernel's arrays into the result's Polars frames. The execution
rules themselves (next-open fills, sizing, precedence, end of data) live in the kernel and are
documented in docs/execution.md.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any, Sequence

import numpy as np
import polars as pl

from ..arrays import read_only
from ..market.bars import OHLCV_COLUMNS, PRICE_COLUMNS
from ..market.vocab import FILL_POLICIES, SIZING_MODES
from .execution import ExecutionConfig, level_values
from .metrics import bars_per_year, drawdown
from .program import RuleProgram, kernel_program
from .signals import Signals

TRADE_SCHEMA = {
    "side": pl.String,
    "entry_time": pl.Datetime("ms", "UTC"),
    "entry_price": pl.Float64,
    "exit_time": pl.Datetime("ms", "UTC"),
    "exit_price": pl.Float64,
    "qty": pl.Float64,
    "fees": pl.Float64,
    "pnl": pl.Float64,
    "return_pct": pl.Float64,
    "bars_held": pl.Int64,
    "exit_reason": pl.String,
    "entry_bar": pl.Int64,
    "exit_bar": pl.Int64,
    "ambiguous": pl.Boolean,
}


@dataclass(frozen=True)
class Ruin:
    """The equity reached zero on bar `bar` (at `time`): the account was liquidated and nothing
    traded after it (docs/execution.md, "Ruin"). `shortfall` is the loss beyond the equity (a
    gap past the liquidation price), which the equity curve does not carry below zero."""

    bar: int
    time: datetime
    shortfall: float


@dataclass(frozen=True)
class BacktestResult:
    """Everything a backtest produced.

    trades:  one row per closed trade, in closing order (columns as in `TRADE_SCHEMA`).
    equity:  one row per bar: timestamp, equity (marked at the close), position (signed quantity
             after the bar's fills), drawdown (equity / running peak - 1, a fraction <= 0).
    metrics: {"all": {...}, "long": {...}, "short": {...}} from `metrics.compute_metrics`.
    ruin:    when and how the account was ruined, or None.
    """

    trades: pl.DataFrame
    equity: pl.DataFrame
    metrics: dict[str, dict[str, Any]]
    config: ExecutionConfig
    bars_per_year: float
    ruin: Ruin | None = None


def run_backtest(bars: pl.DataFrame, signals: Signals, config: ExecutionConfig | None = None,
                 program: RuleProgram | None = None) -> BacktestResult:
    """Simulate `signals` on `bars` under `config` (default: ExecutionConfig()); `program`: the
    rules and risk values that read position state (runtime/program.py), computed in the run."""
    config = ExecutionConfig() if config is None else config
    _check_inputs(bars, signals, config)
    market = Market.of(bars)
    run = simulate(market, signals, config, program)
    trades = trades_frame(run.trades, market.timestamps, columns=run.columns)
    equity_frame = equity_curve(market.timestamps, run.equity, run.position, drawdowns=run.drawdown)
    return BacktestResult(trades=trades, equity=equity_frame, metrics=run.metrics(),
                          config=config, bars_per_year=market.per_year,
                          ruin=ruin_of(run.ruin, market.timestamps))


@dataclass(frozen=True)
class Market:
    """The bars as the kernel and the metrics read them, prepared once per data window (a sweep
    runs many backtests on one window)."""

    prices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # open, high, low, close
    timestamps: pl.Series
    ms: np.ndarray
    per_year: float
    buy_and_hold_pct: float

    @classmethod
    def of(cls, bars: pl.DataFrame) -> Market:
        prices = tuple(_kernel_array(bars[name].to_numpy(), np.float64) for name in ("open", "high", "low", "close"))
        close = prices[3]
        timestamps = bars["timestamp"]
        return cls(prices, timestamps, timestamps.dt.epoch("ms").to_numpy(), bars_per_year(timestamps),  # type: ignore[arg-type]
                   100.0 * float(close[-1] / close[0] - 1.0) if len(close) else 0.0)


@dataclass(frozen=True)
class KernelRun:
    """One simulation's arrays (the kernel's output) and its metrics' numbers, before any frame:
    what a sweep keeps of a trial, and what a plain run builds its result from."""

    trades: np.ndarray
    columns: dict[str, np.ndarray]  # summary.trade_columns of `trades`
    equity: np.ndarray
    position: np.ndarray
    drawdown: np.ndarray
    ruin: np.ndarray
    equity_part: np.ndarray  # summary.summarize's numbers
    trade_part: np.ndarray
    buy_and_hold_pct: float

    def metrics(self) -> dict[str, dict[str, Any]]:
        """{"all": ..., "long": ..., "short": ...} as `metrics.compute_metrics` gives them."""
        from .summary import as_dicts

        return as_dicts(self.equity_part, self.trade_part, self.buy_and_hold_pct)


def simulate(market: Market, signals: Signals, config: ExecutionConfig,
             program: RuleProgram | None = None) -> KernelRun:
    """The kernel on `signals` under `config`, and every metric (compiled: runtime/summary.py).
    The inputs are trusted (`run_backtest` checks them; a sweep checks its window once).
    `program`: the rules and risk values that read position state (runtime/program.py)."""
    from .summary import summary_arrays, trade_columns

    flags = tuple(_kernel_array(array, np.bool_) for array in signals.arrays())
    levels, modes, ints, floats = kernel_config(config, signals)
    modes, rules = kernel_program(program, config, modes)
    records, equity, position, drawdowns, ruin = run_kernel(market.prices, flags, levels, modes, ints,
                                                            floats, rules)
    columns = trade_columns(records, _record_fields())
    equity_part, trade_part = summary_arrays(equity, position, drawdowns, market.ms, capital=config.capital,
                                             bars_per_year=market.per_year, trades=columns)
    return KernelRun(records, columns, equity, position, drawdowns, ruin, equity_part, trade_part,
                     market.buy_and_hold_pct)


def run_kernel(prices: Sequence[np.ndarray], flags: Sequence[np.ndarray], levels: tuple, modes: np.ndarray,
               ints: np.ndarray, floats: np.ndarray, program: tuple) -> tuple[np.ndarray, ...]:
    """`kernel.simulate` into arrays numpy allocates (huge pages for large ones, see there):
    (trades, equity, position, drawdown, ruin), `trades` holding only the closed trades."""
    kn = _kernel()
    n = len(prices[0])
    trades = np.empty((kn.trade_rows(n, flags[0], flags[2], flags[1], flags[3], modes, ints, floats),
                       kn.TRADE_FIELDS))
    equity, position, drawdown = np.empty(n), np.empty(n), np.empty(n)
    k, ruin = kn.simulate(*prices, *flags, levels, modes, ints, floats, program, trades, equity, position,
                          drawdown)
    # A view: the rows past the last trade were never touched, so they hold no memory.
    return trades[:k], equity, position, drawdown, ruin


def _record_fields() -> dict[str, int]:
    """The kernel's trade record column of each field `summary.trade_columns` reads."""
    kn = _kernel()
    return {"side": kn.T_SIDE, "qty": kn.T_QTY, "entry_price": kn.T_ENTRY_PRICE,
            "exit_price": kn.T_EXIT_PRICE, "entry_fee": kn.T_ENTRY_FEE, "exit_fee": kn.T_EXIT_FEE,
            "entry_bar": kn.T_ENTRY_BAR, "exit_bar": kn.T_EXIT_BAR, "ambiguous": kn.T_AMBIGUOUS}


def ruin_of(ruin: np.ndarray, timestamps: pl.Series) -> Ruin | None:
    """The kernel's (ruin bar or -1, shortfall) as a `Ruin`."""
    bar = int(ruin[0])
    return None if bar < 0 else Ruin(bar, timestamps[bar], float(ruin[1]))


def kernel_config(config: ExecutionConfig, signals: Signals) -> tuple[Any, Any, Any, Any]:
    """(levels, modes, ints, floats): the config packed for `kernel.simulate`.

    Packed into fixed-shape arrays so that every configuration has the same numba signature (one
    compiled, cached kernel); a constant level is a length-1 array, a series a per-bar one.
    """
    levels = tuple(_level_array(value, signals) for value in level_values(config))
    return (levels, *kernel_settings(config))


@functools.lru_cache(maxsize=64)
def kernel_settings(config: ExecutionConfig) -> tuple[Any, Any, Any]:
    """(modes, ints, floats): the level modes and the scalar settings of `config` for the kernel.
    Cached: a sweep's combinations mostly share their config, and these are read-only arrays
    (packing them took 20-90 us, a tenth of a trial's Python time)."""
    kn = _kernel()
    # ExecutionConfig's words as the kernel's codes (FILL_POLICIES and SIZING_MODES are listed in
    # the order of kernel.F_* and kernel.S_*).
    mode_codes = {"percent": kn.M_PERCENT, "distance": kn.M_DISTANCE, "price": kn.M_PRICE}
    order_codes = {"market": kn.O_MARKET, "limit": kn.O_LIMIT, "stop": kn.O_STOP}
    modes = np.zeros(kn.R_SLOTS, dtype=np.int64)
    for side_index, rules in enumerate((config.long, config.short)):
        for kind, level in enumerate(rules.levels().values()):
            modes[side_index * kn.R_KINDS + kind] = mode_codes[level.mode] if level else kn.M_NONE
        modes[side_index * kn.R_KINDS + kn.R_ENTRY] = order_codes[rules.entry.kind]
        if rules.exit_portion is not None:
            modes[side_index * kn.R_KINDS + kn.R_PORTION] = kn.M_PERCENT
    ints = np.zeros(kn.I_FIELDS, dtype=np.int64)
    ints[kn.I_SIZING] = SIZING_MODES.index(config.sizing.mode)
    ints[kn.I_POLICY] = FILL_POLICIES.index(config.fill)
    ints[kn.I_PYRAMIDING] = config.pyramiding
    ints[kn.I_TIME_LONG], ints[kn.I_TIME_SHORT] = (r.exit_after or 0 for r in (config.long, config.short))
    ints[kn.I_EXPIRE_LONG], ints[kn.I_EXPIRE_SHORT] = (r.entry.expire or 0 for r in (config.long, config.short))
    floats = np.zeros(kn.C_FIELDS + kn.LADDER_FIELDS)
    floats[[kn.C_CAPITAL, kn.C_FEE, kn.C_FEE_FIXED, kn.C_SLIPPAGE, kn.C_SLIPPAGE_PRICE,
            kn.C_SPREAD, kn.C_SPREAD_PRICE, kn.C_SIZE, kn.C_MIN_QTY, kn.C_QTY_STEP, kn.C_LEVERAGE]] = (
        config.capital, config.fee, config.fee_per_order, config.slippage, config.slippage_price,
        config.spread, config.spread_price, config.sizing.value, config.sizing.min_qty,
        config.sizing.qty_step, config.leverage)
    for side_index, rules in enumerate((config.long, config.short)):
        for r, rung in enumerate(rules.ladder):
            at = kn.C_FIELDS + (side_index * kn.MAX_RUNGS + r) * kn.RUNG_FIELDS
            floats[at:at + kn.RUNG_FIELDS] = (mode_codes[rung.level.mode], rung.level.value, rung.portion)
    return read_only(modes), read_only(ints), read_only(floats)


def _level_array(value: float | str, signals: Signals) -> np.ndarray:
    """A named series (checked to exist by `_check_inputs`) or a constant as a length-1 array."""
    if isinstance(value, str):
        return _kernel_array(signals.levels[value], np.float64)
    return _kernel_array(np.array([value], dtype=np.float64), np.float64)


def trades_frame(records: np.ndarray, timestamps: pl.Series, *,
                 columns: dict[str, np.ndarray] | None = None) -> pl.DataFrame:
    """The kernel's trade matrix as a DataFrame with names, times, P&L and returns (`columns`:
    `summary.trade_columns(records)` when the caller already has them)."""
    from .summary import trade_columns

    kn = _kernel()
    c = trade_columns(records, _record_fields()) if columns is None else columns
    frame = {
        "side": _labels(c["side"], {1: "long", -1: "short"}),
        "entry_time": timestamps.gather(c["entry_bar"]),
        "entry_price": c["entry_price"],
        "exit_time": timestamps.gather(c["exit_bar"]),
        "exit_price": c["exit_price"],
        "qty": c["qty"],
        "fees": c["fees"],
        "pnl": c["pnl"],
        "return_pct": c["return_pct"],
        "bars_held": c["bars_held"],
        "exit_reason": _labels(records[:, kn.T_REASON], dict(enumerate(kn.EXIT_REASONS))),
        "entry_bar": c["entry_bar"],
        "exit_bar": c["exit_bar"],
        # The exit (or the path of the trade) depended on the unknown order of touches in a bar.
        "ambiguous": c["ambiguous"],
    }
    return pl.DataFrame(frame, schema=TRADE_SCHEMA)


def equity_curve(timestamps: pl.Series, equity: np.ndarray, position: np.ndarray, *,
                 drawdowns: np.ndarray | None = None) -> pl.DataFrame:
    """Per-bar equity, position and drawdown from the running peak (a fraction, <= 0;
    `drawdowns`: `metrics.drawdown(equity)` when the caller already has it)."""
    drawdowns = drawdown(equity) if drawdowns is None else drawdowns
    return pl.DataFrame({"timestamp": timestamps, "equity": equity,
                         "position": position, "drawdown": drawdowns})


def _labels(codes: np.ndarray, names: dict[int, str]) -> pl.Series:
    """Integer codes from the kernel as their names (polars maps them without Python strings)."""
    return pl.Series(codes.astype(np.int64)).replace_strict(names, return_dtype=pl.String)


def _kernel() -> ModuleType:
    """The compiled kernel module, imported on first use.

    Importing numba costs 0.1-0.3 s; deferring it keeps `import tradebot.runtime` cheap for
    commands that never backtest (e.g. `tradebot check`). numba then loads the compiled kernel
    from its on-disk cache.
    """
    from ..compiled import announce_first_compile
    from . import kernel

    announce_first_compile(kernel)  # importing compiles nothing; the first call does
    return kernel


def _check_inputs(bars: pl.DataFrame, signals: Signals, config: ExecutionConfig) -> None:
    """Reject inputs that break the runtime's contract (a bug in the caller, not user data)."""
    missing = [name for name in OHLCV_COLUMNS if name not in bars.columns]
    if missing:
        raise ValueError(f"bars lack the column(s) {', '.join(missing)}")
    if bars.height == 0:
        raise ValueError("cannot backtest zero bars")
    if len(signals) != bars.height:
        raise ValueError(f"{len(signals)} signal values for {bars.height} bars")
    if not isinstance(bars.schema["timestamp"], pl.Datetime):
        raise TypeError(f"bars.timestamp must be a Datetime column, got {bars.schema['timestamp']}")
    # The stored integers, whatever the unit (a view, not a copy in milliseconds and its diff:
    # 2-3 ms of fresh pages for 1M bars).
    stamps = bars["timestamp"].to_physical().to_numpy()
    if not np.all(stamps[1:] > stamps[:-1]):
        raise ValueError("bars.timestamp must be strictly increasing")
    for name in PRICE_COLUMNS:
        values = bars[name].to_numpy()
        # min/max propagate NaN, so this also rejects missing values (and is 3x cheaper than
        # an elementwise isfinite mask on a million bars).
        if not (values.min() > 0 and np.isfinite(values.max())):
            raise ValueError(f"bars.{name} must be finite and positive on every bar")
    for name, level in _named_levels(config):
        if name not in signals.levels:
            raise ValueError(f"the config's {level} reads the level series {name!r}, which the "
                             f"signals lack (they have: {', '.join(signals.levels) or 'none'})")


def _named_levels(config: ExecutionConfig) -> list[tuple[str, str]]:
    """(series name, what reads it) for every level given as a per-bar series."""
    out = []
    for side in ("long", "short"):
        rules = config.side(side)
        values = {**{k: v.value for k, v in rules.levels().items() if v is not None},
                  "entry price": rules.entry.price, "exit portion": rules.exit_portion}
        out.extend((value, f"{side} {what}") for what, value in values.items() if isinstance(value, str))
    return out


def _kernel_array(values: np.ndarray, dtype: type) -> np.ndarray:
    """A read-only, C-contiguous view (a copy only when dtype or layout differ).

    The kernel never writes its inputs; making every input read-only gives numba the same
    argument types on every call, hence one cached compilation (a writable and a read-only array
    are different types to numba).
    """
    array = np.ascontiguousarray(values, dtype=dtype).view()
    array.flags.writeable = False
    return array
