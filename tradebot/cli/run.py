"""`tradebot run` (backtest a script) and `tradebot check` (report every error, run nothing)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Iterable

from ..compiled import numba_warming_up
from . import skip_teardown
from ..config import Config
from ..data import cache as data_cache
from ..data.panel import load_panel
from ..errors import UsageError, UserError
from ..lang import ast
from ..lang.diagnostics import Diagnostic, render_one
from ..lang.lookback import lookback
from ..optimize import flags as optimize_flags
from ..pipeline import (Strategy, backtest_counting_rules, check_data, count_rules, data_path, engine_nodes,
                        is_portfolio, load_bars, load_strategy, params_as_written, run_settings, summarise)
from ..portfolio_pipeline import StoreChoice, backtest_portfolio, universe_paths, with_other_symbols
from ..runtime.report import result_to_dict, write_outputs
from .flags import output_folder, parse_overrides


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="backtest a .tbs script",
                                description="Backtest a .tbs script and print its results.")
    run.add_argument("script", type=Path, help="the .tbs file")
    run.add_argument("--data", metavar="FILE", help="OHLCV CSV to run on (overrides the script's `data`)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                     help="override a param's default (repeatable), e.g. --set fast=12")
    run.add_argument("--json", action="store_true", help="print one JSON document instead of the summary")
    run.add_argument("--out", type=Path, metavar="DIR", help="also write trades.csv, equity.csv, result.json")
    run.add_argument("--trades", type=_count, default=10, metavar="N",
                     help="how many last trades to show (10; 0 for none)")
    run.add_argument("--report", nargs="?", const="", metavar="FILE",
                     help="also write an HTML report (default reports/<strategy>-<time>.html)")
    run.add_argument("--open", action="store_true", help="open the --report in the default browser")
    run.add_argument("--no-cache", action="store_true",
                     help="parse the CSV even if its validated copy is cached (docs/data.md)")
    run.add_argument("--interval", help="bar interval of a `universe BTCUSDT, ...` read from the store "
                     "(default: the one its symbols have there)")
    run.add_argument("--category", choices=("linear", "spot", "inverse"), help="store category of "
                     "`universe BTCUSDT, ...` and `close of BTCUSDT` (config bybit.category, default linear)")
    optimize_flags.add_arguments(run)
    run.set_defaults(handler=run_command)

    chk = subparsers.add_parser("check", help="check scripts for errors without running them",
                                description="Parse and check .tbs scripts; print every error at once.")
    chk.add_argument("scripts", type=Path, nargs="+", help=".tbs files")
    chk.add_argument("--data", metavar="FILE", help="also check the scripts against this OHLCV CSV: its "
                     "header and rows, `@ timeframe`s against its interval, risk distances against its prices")
    chk.set_defaults(handler=check_command)


def _count(text: str) -> int:
    """A whole number of at least 0 (argparse reports the error as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"`{text}`: give a whole number, 0 or more")
    return value


def print_warnings(strategy: Strategy, warnings: Iterable[Diagnostic] | None = None) -> None:
    """The checker's warnings (or `warnings`), each with its line and caret, on stderr."""
    checked = strategy.checked
    for warning in checked.warnings if warnings is None else warnings:
        print(render_one(warning, checked.source, checked.filename), file=sys.stderr)


def run_command(args: argparse.Namespace, config: Config) -> int:
    optimize_flags.check_flags(args)
    if args.open and args.report is None:
        raise UsageError("--open opens the HTML report: add --report (or --report FILE)")
    if args.out:  # before the run: a bad --out must not cost the whole backtest first
        output_folder(args.out)
    if args.optimize:
        from ..optimize.command import optimize_command  # loads Optuna: only when optimizing

        from .report import sweep_reporter

        return optimize_command(args, config, report=sweep_reporter(args))
    strategy = load_strategy(args.script, overrides=parse_overrides(args.overrides))
    print_warnings(strategy)
    # The script is sound, so a backtest will follow: numba's start-up overlaps the CSV load.
    with numba_warming_up():
        code = _backtest(strategy, args, config)
    if not args.open:  # a backtest leaves nothing running: its process may end without teardown
        skip_teardown()
    return code


def _backtest(strategy: Strategy, args: argparse.Namespace, config: Config) -> int:
    if is_portfolio(strategy):
        return _backtest_portfolio(strategy, args, config)
    source = data_path(strategy, flag=args.data, config=config)
    bars = load_bars(source, cache_dir=data_cache.configured_dir(config, disabled=args.no_cache))
    print_warnings(strategy, check_data(strategy, bars))
    strategy = with_other_symbols(strategy, config, bars, store=_store_choice(args))
    report = args.report is not None or args.out  # --out keeps what `tradebot report DIR` draws
    if report:
        from .report import backtest_for_report, save_report

        run = backtest_for_report(strategy, bars)
        result, rules = run.result, count_rules(strategy, bars)
    else:
        result, rules = backtest_counting_rules(strategy, bars)
    settings = run_settings(strategy, bars, script=str(args.script), data=str(source))
    params = strategy.checked.param_values
    if args.out:
        paths = write_outputs(result, args.out, settings=settings, params=params, rules=rules)
        print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    if report:
        save_report(run, strategy, args, bars=bars, settings=settings, params=params_as_written(strategy))
    if args.json:
        document = result_to_dict(result, settings=settings, params=params, rules=rules)
        print(json.dumps(document, indent=2, allow_nan=False))
    else:
        print(summarise(strategy, bars, result, settings=settings, rules=rules, last_trades=args.trades), end="")
    return 0


def _backtest_portfolio(strategy: Strategy, args: argparse.Namespace, config: Config) -> int:
    """A script with a `universe`: one account over its symbols (docs/execution.md, "Portfolios")."""
    from ..runtime.portfolio_report import format_portfolio, portfolio_to_dict, write_portfolio

    if args.data:
        raise UsageError("--data is for one symbol; a script with a `universe` names its own files")
    store = _store_choice(args)
    files = universe_paths(strategy, config, store)
    panel = load_panel(files)
    strategy = with_other_symbols(strategy, config, panel=panel, store=store)
    result = backtest_portfolio(strategy, panel)
    universe = strategy.checked.settings["universe"]
    settings = {"strategy": strategy.title, "script": str(args.script),
                "universe": universe if isinstance(universe, str) else ", ".join(universe),
                "symbols": ", ".join(panel.symbols),
                "bars": len(panel.timestamps), "from": str(panel.timestamps[0]),
                "to": str(panel.timestamps[-1])}
    if args.out:
        paths = write_portfolio(result, args.out, settings=settings)
        print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    if args.out or args.report is not None:
        from .report import save_portfolio_report

        save_portfolio_report(result, strategy, args, prices=panel.prices, files=files, settings=settings,
                              params=params_as_written(strategy))
    if args.json:
        print(json.dumps(portfolio_to_dict(result, settings=settings), indent=2, allow_nan=False))
    else:
        print(format_portfolio(result, title=strategy.title, settings=settings,
                               last_trades=args.trades), end="")
    return 0


def _store_choice(args: argparse.Namespace) -> StoreChoice:
    return StoreChoice(getattr(args, "category", None), getattr(args, "interval", None))


def check_command(args: argparse.Namespace, config: Config) -> int:
    bars = load_bars(Path(args.data)) if args.data else None  # a bad file: its own error, once
    worst = 0
    for path in args.scripts:
        try:
            strategy = load_strategy(path)
            if is_portfolio(strategy):  # a universe the script may not read, or matching nothing
                universe_paths(strategy, config)
            else:
                data_path(strategy, flag=None, config=config)  # a `data` line it may not read
            warnings = check_data(strategy, bars) if bars is not None else []
        except UserError as err:
            print(err.render(), file=sys.stderr)
            worst = max(worst, err.exit_code)
            continue
        print_warnings(strategy)
        print_warnings(strategy, warnings)
        checked = strategy.checked
        rules = sum(1 for s in checked.program.statements if isinstance(s, ast.Rule))
        against = f", fits {args.data}" if bars is not None else ""
        warmup = lookback(engine_nodes(checked).values()).describe()
        print(f"{path}: ok ({len(checked.params)} params, {len(checked.series)} series, {rules} rules{against}; "
              f"{warmup})")
    return worst
