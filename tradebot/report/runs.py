"""Reports of the runs the CLI makes: a backtest evaluated once for its result, its named series
and its risk levels; where a report goes by default; opening it in the browser.
"""
from __future__ import annotations

import re
import webbrowser
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from ..lang.compiler import compile_nodes
from ..lang.types import NUMBER_SERIES
from ..lang.stateful.position import reads_position
from ..pipeline import Strategy, backtest_from_frame, level_names
from ..runtime.engine import BacktestResult

REPORTS_DIR = Path("reports")


@dataclass(frozen=True)
class RunData:
    """A backtest plus what its report draws besides: named series and per-bar risk levels."""

    result: BacktestResult
    series: dict[str, np.ndarray]
    levels: dict[str, np.ndarray]


def backtest_for_report(strategy: Strategy, bars: pl.DataFrame) -> RunData:
    """The backtest `pipeline.backtest` runs, keeping the plan's risk-level columns, plus the
    script's numeric named series (one extra plan; an indicator both use is computed twice)."""
    frame = strategy.plan.evaluate(bars)
    result = backtest_from_frame(strategy.checked, bars, frame)
    levels = {name: frame[name].cast(pl.Float64).to_numpy() for name in level_names(strategy.checked)}
    return RunData(result, named_series(strategy, bars), levels)


def named_series(strategy: Strategy, bars: pl.DataFrame) -> dict[str, np.ndarray]:
    """The script's named number series (`r = rsi(close, 14)`) evaluated on the bars; conditions
    and constants are left out (they have no scale to draw on)."""
    nodes = {name: node for name, node in strategy.checked.series.items()
             if node.type == NUMBER_SERIES and not reads_position(node)}  # position state: no column
    if not nodes:
        return {}
    plan = compile_nodes(nodes, source=strategy.checked.filename)
    if strategy.plan.others is not None:  # `close of BTCUSDT`: the same other symbols' bars as the run
        plan = plan.with_others(strategy.plan.others)
    frame = plan.evaluate(bars)
    return {name: frame[name].cast(pl.Float64).to_numpy() for name in nodes}


def default_path(title: str, *, now: datetime | None = None, folder: Path = REPORTS_DIR) -> Path:
    """reports/<strategy>-<UTC time>.html, the strategy's title made safe for any file system."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower() or "strategy"
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    return folder / f"{slug}-{stamp}.html"


def report_path(flag: str | None, title: str) -> Path:
    """`--report` alone gives the default path; `--report FILE` that file."""
    return Path(flag) if flag else default_path(title)


def open_in_browser(path: Path) -> bool:
    """Open the file in the default browser (Windows, macOS and Linux alike)."""
    return webbrowser.open(Path(path).resolve().as_uri())
