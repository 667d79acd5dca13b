"""The runtime: signals -> orders -> fills -> portfolio -> metrics and reports.

Public API:
    Signals, ExecutionConfig                    - the inputs the compiler builds
    Level, SideRules, EntryOrder, Sizing        - risk exits, entry orders, sizing (in the config)
    run_backtest(bars, signals, config)         - the backtest (compiled numba kernel)
    BacktestResult                              - trades, equity curve, metrics
    compute_metrics, bars_per_year              - metrics of a trade list and equity curve
    format_summary, result_to_dict, write_outputs - terminal, JSON and file output

Execution rules and metric definitions: docs/execution.md. Importing this package does not import
numba; the kernel is loaded on the first `run_backtest` call.
"""
from __future__ import annotations

from .engine import BacktestResult, run_backtest
from .execution import EntryOrder, ExecutionConfig, Level, SideRules, Sizing
from .metrics import bars_per_year, compute_metrics
from .report import format_summary, result_to_dict, write_outputs
from .signals import Signals

__all__ = [
    "BacktestResult",
    "EntryOrder",
    "ExecutionConfig",
    "Level",
    "SideRules",
    "Sizing",
    "Signals",
    "bars_per_year",
    "compute_metrics",
    "format_summary",
    "result_to_dict",
    "run_backtest",
    "write_outputs",
]
