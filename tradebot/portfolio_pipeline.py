"""The pipeline of scripts that read more than one symbol: a universe's files (`universe`), the
bars of the symbols read with `of`, and the portfolio backtest over a universe. pipeline.py is
the one-symbol path these build on (docs/execution.md, "Portfolios").
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import polars as pl

from .config import Config
from .data.access import refusal, script_data_roots
from .data.panel import Panel, load_panel, universe_files
from .data.universe import store_files
from .errors import DataError
from .lang import ast, ir
from .lang.checker import SIGNALS, CheckedProgram
from .lang.diagnostics import Diagnostic, ScriptDiagnostics
from .market.intervals import INTERVALS
from .market.timeframe import infer_interval_ms
from .pipeline import (PROGRAM_INPUT, Strategy, bound_plan, bundled_data_path, engine_nodes, execution_config,
                       level_names, load_bars, position_program, require_volume, rule_program, setting_error,
                       strategy_plan)
from .runtime.portfolio import PortfolioBars, PortfolioResult, run_portfolio
from .runtime.signals import Signals


@dataclass(frozen=True)
class StoreChoice:
    """Which store series `universe BTCUSDT, ...` and `close of BTCUSDT` read: the category
    (None: `[bybit] category`, default linear) and, for a universe, the interval (None: the one
    its symbols have in the store). docs/execution.md, "Portfolios"."""

    category: str | None = None
    interval: str | None = None

    def root_and_category(self, config: Config) -> tuple[Path, str]:
        # The settings module imports the exchange clients (aiohttp, websockets: a quarter of a
        # second), which only a script reading the store pays for.
        from .data.settings import load_settings

        settings = load_settings(config, {"category": self.category})
        return settings.store_root, settings.category


def universe_panel(strategy: Strategy, config: Config, store: StoreChoice = StoreChoice()) -> Panel:
    """The script's universe, loaded and aligned."""
    return load_panel(universe_paths(strategy, config, store))


def universe_paths(strategy: Strategy, config: Config, store: StoreChoice = StoreChoice()) -> dict[str, Path]:
    """The files of the script's universe by symbol: the store's files of its symbols, or its glob
    (relative to the script) under the same rules as a `data` line (docs/security.md)."""
    checked = strategy.checked
    pattern = checked.settings["universe"]
    base = strategy.path.parent if strategy.path else Path.cwd()
    if checked.settings.get("data"):
        raise setting_error(checked, "data", "a script with a `universe` reads its symbols' files "
                             "from it, not from `data`", "drop the `data` line")
    if isinstance(pattern, tuple):
        root, category = store.root_and_category(config)
        script = strategy.path or Path("SCRIPT.tbs")
        hint = f"tradebot fetch --universe {script} --interval {{interval}} --since 2024-01-01"
        return dict(store_files(root, category, pattern, store.interval, fetch_hint=hint).files)
    files = universe_files(pattern, base)
    if not files:
        raise setting_error(checked, "universe", f"`{pattern}` matches no file",
                             "the pattern is relative to the script's folder")
    roots = script_data_roots(base, config, bundled_data_path().parent)
    for path in files.values():
        why = refusal(path, roots)
        if why:
            raise setting_error(checked, "universe", f"cannot read `{path}`: {why}",
                                 "move the files under the script's folder or a data folder")
    return files


def store_symbols(strategy: Strategy) -> tuple[str, ...]:
    """The symbols the script reads from the candle store: its `universe BTCUSDT, ...` and, unless
    its universe is a glob of files (which `of` then reads from), every `of SYMBOL`."""
    universe = strategy.checked.settings.get("universe")
    if isinstance(universe, str):
        return ()
    return tuple(dict.fromkeys([*(universe or ()), *strategy.plan.other_symbols]))


def with_other_symbols(strategy: Strategy, config: Config, bars: pl.DataFrame | None = None, *,
                       panel: Panel | None = None, store: StoreChoice = StoreChoice()) -> Strategy:
    """The strategy with the bars of every symbol it reads with `of` bound to its plan
    (`other_bars`)."""
    needed = strategy.plan.other_symbols
    if not needed:
        return strategy
    found = other_bars(strategy, config, needed, bars, panel=panel, store=store)
    return replace(strategy, plan=strategy.plan.with_others(found))


def other_bars(strategy: Strategy, config: Config, symbols: Sequence[str], bars: pl.DataFrame | None = None,
               *, panel: Panel | None = None, store: StoreChoice = StoreChoice()) -> dict[str, pl.DataFrame]:
    """The bars of `symbols` (read with `of`): from the universe's own bars when the symbol is in
    the panel, else from the store at the same category and the interval of the script's bars
    (`bars`, or the panel's); a glob universe reads only its own files."""
    found = {s: panel.bars[s] for s in symbols if panel is not None and s in panel.bars}
    rest = [s for s in symbols if s not in found]
    if not rest:
        return found
    if panel is not None and not isinstance(strategy.checked.settings["universe"], tuple):
        raise ScriptDiagnostics([Diagnostic(
            f"`{rest[0]}` is not in the universe, whose files are the only data it reads",
            _of_span(strategy, rest[0]), "its symbols are " + ", ".join(panel.symbols))],
            strategy.checked.source, strategy.checked.filename)
    interval_ms = panel.interval_ms if panel is not None else \
        infer_interval_ms(bars["timestamp"].dt.epoch("ms").to_numpy()) if bars is not None else None
    interval = next((name for name, iv in INTERVALS.items() if iv.ms == interval_ms), None)
    if interval is None:
        raise DataError("data", f"the store has no series at the data's interval "
                        f"({interval_ms} ms) for `of {rest[0]}`",
                        hint="run on data with a Bybit interval (1m ... 1d)")
    root, category = store.root_and_category(config)
    hint = f"tradebot fetch {' '.join(rest)} --interval {{interval}} --since 2024-01-01"
    files = store_files(root, category, rest, interval, fetch_hint=hint).files
    return {**found, **{symbol: load_bars(path) for symbol, path in files.items()}}


def _of_span(strategy: Strategy, symbol: str) -> ast.Span:
    """Where the script first reads `symbol` with `of`."""
    checked = strategy.checked
    spans = [node.span for node in ir.walk(*checked.series.values(), *engine_nodes(checked).values())
             if isinstance(node, ir.OfSymbol) and node.symbol == symbol]
    return min(spans, key=lambda span: span.start) if spans else checked.program.span


def backtest_portfolio(strategy: Strategy, panel: Panel) -> PortfolioResult:
    """Evaluate the plan on each symbol's own bars (no symbol sees another's, none is filled
    forward), place the results on the panel's timeline and run the portfolio engine."""
    checked = strategy.checked
    rank = checked.settings.get("rank")
    plan = bound_plan(strategy, strategy_plan(checked, extra={RANK: rank} if rank is not None else None))
    frames = {}
    for symbol in panel.symbols:
        require_volume(strategy, panel.bars[symbol])
        frames[symbol] = plan.evaluate(panel.bars[symbol], interval=panel.interval_ms, whole_data=True)
    return portfolio_from_frames(checked, panel, frames)


RANK = "portfolio.rank"  # the plan output holding a portfolio script's `rank by` value


def portfolio_nodes(checked: CheckedProgram) -> dict[str, ir.Node]:
    """`engine_nodes` plus the `rank by` value of a portfolio script: what a plan computes on
    each symbol's bars (the optimizer compiles many programs' into one plan)."""
    rank = checked.settings.get("rank")
    return {**engine_nodes(checked), **({RANK: rank} if rank is not None else {})}


def portfolio_from_frames(checked: CheckedProgram, panel: Panel, frames: Mapping[str, pl.DataFrame], *,
                          prefix: str = "", window: tuple[int, int] | None = None) -> PortfolioResult:
    """Run the portfolio engine on inputs a plan computed per symbol (`frames[symbol]`, columns
    `prefix + name`, one row per bar of the symbol up to the window's end), over the timeline
    rows [start, end) of `window` (default: all of it)."""
    start, end = window or (0, len(panel.timestamps))
    levels = level_names(checked)

    def placed(symbol: str, name: str, fill: object, dtype: type) -> np.ndarray:
        values = frames[symbol][prefix + name]
        values = values.fill_null(False) if dtype is bool else values.cast(pl.Float64)
        out = np.full(end, fill, dtype=dtype)
        rows = panel.rows[symbol]
        mine = rows[:values.len()]
        out[mine[mine < end]] = values.to_numpy()[:np.count_nonzero(mine < end)]
        return out[start:]

    has_rank = checked.settings.get("rank") is not None
    signals, ranks = [], np.zeros((end - start, len(panel.symbols)))
    for j, symbol in enumerate(panel.symbols):
        signals.append(Signals(**{name: placed(symbol, name, False, bool) for name in SIGNALS},
                               levels={name: placed(symbol, name, np.nan, float) for name in levels}))
        if has_rank:
            ranks[:, j] = placed(symbol, RANK, np.nan, float)
    slots = checked.settings.get("max_positions") or len(panel.symbols)
    bars = PortfolioBars(panel.timestamps[start:end], panel.symbols,
                         {name: matrix[start:end] for name, matrix in panel.prices.items()})
    program, programs = rule_program(position_program(checked), None), None
    if program is not None:  # each symbol's run of it reads that symbol's inputs
        inputs = [f"{PROGRAM_INPUT}{i}" for i in range(program.inputs.shape[0])]
        programs = [program.with_inputs(np.array([placed(symbol, name, np.nan, float) for name in inputs])
                                        .reshape(len(inputs), end - start)) for symbol in panel.symbols]
    return run_portfolio(bars, signals, ranks, execution_config(checked), slots, programs)
