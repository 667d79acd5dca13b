"""`tradebot eval`: compute expressions or a script's named series on data and write them with
their timestamps, to export features or check an indicator against a charting tool.

    tradebot eval 'rsi(close, 14)' 'bbands(close, 20, 2).upper' --data FILE
    tradebot eval strategy.tbs --series r,bb --format parquet --out features.parquet

One column per expression, named by its text (a multi-output indicator without a field gives one
column per field, `bbands(close, 20, 2).upper` ...), or per series, named by the series (`bb =
bbands(...)` gives `bb.upper`, `bb.middle`, `bb.lower`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Mapping

import polars as pl

from ..config import Config
from ..errors import ScriptError, UsageError
from ..lang import ast, ir
from ..lang.checker import CheckedProgram, check_expression
from ..lang.compiler import compile_nodes
from ..lang.diagnostics import ScriptDiagnostics, did_you_mean
from ..lang.timeframes import timeframe_diagnostics
from ..lang.types import NUMBER_SERIES, Kind
from ..market.timeframe import infer_interval_ms
from ..pipeline import check_data, data_path, load_bars, load_strategy, require_volume
from ..portfolio_pipeline import other_bars
from .flags import output_file, parse_overrides

FORMATS = ("csv", "parquet", "table")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    cmd = subparsers.add_parser(
        "eval", help="compute expressions or a script's series and write them with timestamps",
        description="Compute expressions (or a .tbs script's named series) on OHLCV data and write "
                    "one column per expression, with the bar timestamps.")
    cmd.add_argument("items", nargs="+", metavar="EXPR|SCRIPT",
                     help="expressions such as 'rsi(close, 14)', or one .tbs script")
    cmd.add_argument("--series", metavar="A,B", help="with a script: the series to output (default: all)")
    cmd.add_argument("--data", metavar="FILE", help="OHLCV CSV (default: the script's `data`, the "
                     "[run] data setting, or the bundled EUR/USD sample)")
    cmd.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                     help="with a script: override a param (repeatable)")
    cmd.add_argument("--format", choices=FORMATS, help="csv (default), parquet (needs --out) or table")
    cmd.add_argument("--tail", type=int, metavar="N", help="only the last N bars")
    cmd.add_argument("--out", type=Path, metavar="PATH", help="write to a file instead of stdout")
    cmd.set_defaults(handler=eval_command)


def eval_command(args: argparse.Namespace, config: Config) -> int:
    fmt = _format(args)
    if _is_script(args.items):
        frame = _eval_script(args, config)
    else:
        if args.series or args.overrides:
            raise UsageError("--series and --set apply to a .tbs script, not to expressions")
        frame = _eval_expressions(args.items, args, config)
    if args.tail is not None:
        frame = frame.tail(args.tail)
    _write(frame, fmt, args.out)
    return 0


def _is_script(items: list[str]) -> bool:
    if not items[0].endswith(".tbs"):
        return False
    if len(items) > 1:
        raise UsageError("give either one .tbs script or expressions, not both "
                         f"(`{items[1]}` follows the script)")
    return True


def _format(args: argparse.Namespace) -> str:
    """The output format (parquet when --out ends in .parquet), after checking the flags."""
    fmt = args.format or ("parquet" if args.out and args.out.suffix == ".parquet" else "csv")
    if fmt == "parquet" and args.out is None:
        raise UsageError("--format parquet writes a binary file: add --out PATH")
    if args.tail is not None and args.tail < 1:
        raise UsageError(f"--tail {args.tail}: give a number of bars, at least 1")
    if args.out is not None:
        output_file(args.out)
    return fmt


# ------------------------------------------------------------------ expressions


def _eval_expressions(texts: list[str], args: argparse.Namespace, config: Config) -> pl.DataFrame:
    nodes: dict[str, ir.Node] = {}
    checked: list[tuple[str, str, ir.Node]] = []
    failures: list[ScriptDiagnostics] = []
    for i, text in enumerate(texts, start=1):
        try:
            checked.append((text.strip(), f"<arg {i}>", check_expression(text.strip(), f"<arg {i}>")))
        except ScriptDiagnostics as err:
            failures.append(err)
        else:
            for name, part in _columns(text.strip(), checked[-1][2]):
                nodes[_unique(name, nodes)] = part
    _raise(failures)
    bars = load_bars(data_path(None, flag=args.data, config=config))
    interval = infer_interval_ms(bars["timestamp"].dt.epoch("ms").to_numpy())
    _raise([ScriptDiagnostics(found, text, source) for text, source, node in checked
            if (found := timeframe_diagnostics([node], interval))])
    return _frame(bars, nodes)


def _raise(failures: list[ScriptDiagnostics]) -> None:
    if failures:
        raise failures[0] if len(failures) == 1 else _Several(failures)


class _Several(ScriptError):
    """Errors in several command-line expressions, each shown against its own text."""

    def __init__(self, failures: list[ScriptDiagnostics]) -> None:
        self.failures = failures
        super().__init__(self.render())

    def render(self) -> str:
        return "\n\n".join(f.render() for f in self.failures)


def _columns(text: str, node: ir.Node) -> list[tuple[str, ir.Node]]:
    """A multi-output indicator without a field: one column per field."""
    if node.type.kind is Kind.RECORD and isinstance(node, ir.Call):
        return [(f"{text}.{f}", ir.FieldOf(node, f, NUMBER_SERIES)) for f in node.type.fields]
    return [(text, node)]


def _unique(name: str, taken: dict[str, object]) -> str:
    if name not in taken and name != "timestamp":
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def _frame(bars: pl.DataFrame, nodes: dict[str, ir.Node], source: str | None = None,
           others: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    values = compile_nodes(nodes, source=source).evaluate(bars, others=others)
    return pl.concat([bars.select("timestamp"), values], how="horizontal")


# ------------------------------------------------------------------ a script


def _eval_script(args: argparse.Namespace, config: Config) -> pl.DataFrame:
    path = Path(args.items[0])
    strategy = load_strategy(path, overrides=parse_overrides(args.overrides))
    columns = _script_columns(strategy.checked.series)
    wanted = [s.strip() for s in args.series.split(",") if s.strip()] if args.series else list(columns)
    if not wanted:
        raise UsageError(f"{path} defines no series (`name = expression`) to output")
    nodes: dict[str, ir.Node] = {}
    for name in wanted:
        nodes.update(_wanted_columns(name, columns, strategy.checked, path))
    bars = load_bars(data_path(strategy, flag=args.data, config=config))
    require_volume(strategy, bars)
    check_data(strategy, bars)  # its errors; risk warnings say nothing about exported series
    others = other_bars(strategy, config, ir.symbols(*nodes.values()), bars)  # `close of BTCUSDT`: the store
    return _frame(bars, nodes, str(path), others)


def _script_columns(series: Mapping[str, ir.Node]) -> dict[str, ir.Node]:
    """Every exportable column of a script: a series, or each field of a named multi-output call
    (`bb = bbands(...)` gives `bb.upper`, `bb.middle`, `bb.lower`)."""
    return {column: node for name, series_node in series.items()
            for column, node in _columns(name, series_node)}


def _wanted_columns(name: str, columns: Mapping[str, ir.Node], checked: CheckedProgram,
                    path: Path) -> dict[str, ir.Node]:
    """The columns `--series NAME` asks for: `bb` is all of bb's fields, `bb.upper` one of them."""
    picked = {column: node for column, node in columns.items()
              if column == name or column.startswith(f"{name}.")}
    if picked:
        return picked
    exportable = ", ".join(columns) or "none"
    function = next((s for s in checked.program.statements
                     if isinstance(s, ast.FuncDef) and s.name == name), None)
    if function is not None:
        arguments = ", ".join(p.id for p in function.params)
        raise UsageError(f"--series {name}: `{name}` is a function (`def {name}({arguments})`), not a "
                         f"series: it has values only where it is called; name a call, for example "
                         f"`x = {name}(...)`, and export that (exportable: {exportable})")
    hint = did_you_mean(name, [*checked.series, *columns])
    raise UsageError(f"--series {name}: {path} has no series `{name}`"
                     + (f"; {hint}" if hint else f" (exportable: {exportable})"))


# ------------------------------------------------------------------ output


def _write(frame: pl.DataFrame, fmt: str, out: Path | None) -> None:
    if fmt == "parquet":
        try:
            frame.write_parquet(out)
        except OSError as exc:
            raise UsageError(f"--out {out}: cannot write: {exc}") from None
    elif fmt == "table":
        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True,
                       tbl_hide_column_data_types=True, fmt_str_lengths=60):
            text = str(frame) + "\n"
        _emit(text, out)
    else:
        _emit(frame.write_csv(datetime_format=TIME_FORMAT), out)
    if out is not None:
        print(f"wrote {frame.height} rows x {frame.width} columns to {out}", file=sys.stderr)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write: {exc}") from None
