"""HTML reports from the command line: `tradebot run ... --report [FILE] [--open]` (the hooks
below, called by cli/run.py and the optimizer) and `tradebot report DIR` (a run's --out folder
drawn again)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import polars as pl

from ..config import Config
from ..pipeline import Strategy
from ..report.backtest import backtest_page
from ..report.html import write_report
from ..report.model import BacktestPage, SweepPage
from ..report.runs import RunData, backtest_for_report, default_path, open_in_browser, report_path
from ..runtime.portfolio import PortfolioResult

__all__ = ["add_commands", "backtest_for_report", "save_portfolio_report", "save_report", "sweep_reporter"]


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    cmd = subparsers.add_parser("report", help="draw the HTML report of a run saved with --out",
                                description="Write the HTML report of a backtest saved by "
                                            "`tradebot run SCRIPT --out DIR`.")
    cmd.add_argument("folder", type=Path, help="the run's --out folder (trades.csv, equity.csv, result.json)")
    cmd.add_argument("--output", "-o", metavar="FILE", help="where to write it (default reports/<strategy>-<time>.html)")
    cmd.add_argument("--open", action="store_true", help="open it in the default browser")
    cmd.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace, config: Config) -> int:
    from ..report.saved import page_from_folder

    page = page_from_folder(args.folder)
    _publish(page, report_path(args.output, page.title), opened=args.open)
    return 0


def save_report(run: RunData, strategy: Strategy, args: argparse.Namespace, *, bars: pl.DataFrame,
                settings: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """After `tradebot run`: the extra files --out needs for a later report, and the --report page."""
    if args.out:
        from ..report.saved import write_extras

        write_extras(Path(args.out), run, title=strategy.title, data=Path(str(settings["data"])))
    if args.report is None:
        return
    page = backtest_page(run.result, title=strategy.title, bars=bars, series=run.series, settings=settings,
                         params=params, levels=run.levels)
    _publish(page, report_path(args.report, strategy.title), opened=args.open)


def save_portfolio_report(result: PortfolioResult, strategy: Strategy, args: argparse.Namespace, *,
                          prices: Mapping[str, np.ndarray], files: Mapping[str, Path],
                          settings: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """After `tradebot run` of a universe: report.json for a later `tradebot report DIR` (the
    symbols' files), and the --report page."""
    from ..report.portfolio import portfolio_page

    if args.out:
        from ..report.saved import write_portfolio_extras

        write_portfolio_extras(Path(args.out), title=strategy.title, capital=result.config.capital,
                               files=files)
    if args.report is None:
        return
    page = portfolio_page(result, title=strategy.title, prices=prices, settings=settings, params=params)
    _publish(page, report_path(args.report, strategy.title), opened=args.open)


def sweep_reporter(args: argparse.Namespace) -> Callable[..., None] | None:
    """The optimizer's hook: with --report, or --out (whose report.html replaces the old SVG
    figure), called with the review, the run's info and the bars once the sweep is done."""
    if args.report is None and not args.out:
        return None

    def publish(review, info, bars) -> None:  # noqa: ANN001 - optimizer types (bars: a frame or a Panel), imported lazily
        from ..report.sweep import sweep_page

        page = sweep_page(review, info, bars, top=args.top or 10)
        if args.out:
            write_report(page, Path(args.out) / "report.html")
        if args.report is not None:
            path = Path(args.report) if args.report else default_path(f"{info.title}-optimize")
            _publish(page, path, opened=args.open)

    return publish


def _publish(page: BacktestPage | SweepPage, path: Path, *, opened: bool) -> None:
    try:
        write_report(page, path)
    except OSError as exc:
        from ..errors import UsageError

        raise UsageError(f"--report {path}: cannot write: {exc}") from None
    print(f"report: {path}", file=sys.stderr)
    if opened and not open_in_browser(path):
        print(f"note: no browser could be opened; open {path} yourself", file=sys.stderr)
