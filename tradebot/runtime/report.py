"""Presenting a backtest: a terminal summary, a JSON-ready dict, and files on disk.

- `format_summary` - settings, params, a metrics table (all / long / short columns) and the
  last trades, as plain text for the terminal.
- `result_to_dict` - the same content as plain JSON values: no NaN or inf anywhere (an infinite
  ratio becomes null and `notes` says why), times as ISO 8601 UTC strings.
- `write_outputs` - trades.csv, equity.csv and result.json in one directory.

`METRIC_ROWS` is the one list of metrics shown, in display order, with their labels and units;
docs/execution.md defines each of them (a test checks that every key is documented).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..textkit import text_table
from .engine import BacktestResult
from .metrics import METRICS

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"  # polars format: fractional seconds only when non-zero

# (metric key, label, unit), in display order, from the one list of metrics.
METRIC_ROWS: tuple[tuple[str, str, str], ...] = tuple((m.key, m.label, m.unit) for m in METRICS)
COLUMNS = ("all", "long", "short")
TRADE_COLUMNS = ("side", "entry_time", "entry_price", "exit_time", "exit_price", "qty", "fees",
                 "pnl", "return_pct", "bars_held", "exit_reason", "ambiguous")
AMBIGUOUS_NOTE = "* decided by the fill policy: the bar's order of touches is unknown"
NULL_MEANS = "null stands for +infinity (a zero denominator: no losing trade, no down bar or no drawdown)"


@dataclass(frozen=True)
class RuleCount:
    """How often one rule's condition held: `bars_true` of the run's bars."""

    line: int
    text: str  # the rule as the script writes it
    bars_true: int


def format_summary(result: BacktestResult, *, title: str, settings: Mapping[str, Any],
                   params: Mapping[str, Any], last_trades: int = 10, price_decimals: int = 5,
                   rules: Sequence[RuleCount] = ()) -> str:
    """A readable multi-line summary of `result` for the terminal. `price_decimals`: the data's
    (from its tick size); `rules`: how often each rule fired, shown so that a run without trades
    says which condition never held."""
    sections = [
        _underlined(title),
        *([ruin_text(result)] if result.ruin else []),
        _key_values("Settings", merged_settings(result, settings)),
        _key_values("Params", params) if params else "Params: none",
        _metrics_table(result.metrics),
        _rules_table(rules, bars=result.equity.height) if rules else "",
        _trades_table(result.trades, last=last_trades, price_decimals=price_decimals),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def price_decimals(prices: np.ndarray, *, tick_size: float | None = None, most: int = 8) -> int:
    """How many decimals the data's prices are quoted with: the tick size's when the script gives
    one, else the fewest that write a sample of the prices exactly (1.08940 → 5, 74541.6 → 1)."""
    if tick_size:
        return min(most, max(0, -math.floor(math.log10(tick_size) + 1e-9)))
    sample = np.asarray(prices, dtype=np.float64)[:2000]
    sample = sample[np.isfinite(sample)]
    for decimals in range(most + 1):
        scaled = sample * 10.0 ** decimals
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6):  # binary fractions: 0.1 + 0.2 is 0.3
            return decimals
    return most


def result_to_dict(result: BacktestResult, *, settings: Mapping[str, Any],
                   params: Mapping[str, Any], rules: Sequence[RuleCount] = ()) -> dict[str, Any]:
    """The result as JSON-ready values: settings, params, metrics, trades, how often each rule
    held (when given) and notes."""
    document = {
        "settings": merged_settings(result, settings),
        "params": dict(params),
        "metrics": result.metrics,
        "trades": trade_records(result.trades) if result.trades.height else [],  # no query for none
        "ruin": None if result.ruin is None else {
            "bar": result.ruin.bar, "time": result.ruin.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "shortfall": result.ruin.shortfall},
    }
    if rules:
        document["rules"] = [{"line": r.line, "rule": r.text, "bars_true": r.bars_true} for r in rules]
    notes = [f"{path}: {NULL_MEANS}" for path in _infinite_paths(document["metrics"], "metrics")]
    notes += [ruin_text(result)] if result.ruin else []
    return {**json_safe(document), "notes": notes}


def write_outputs(result: BacktestResult, out_dir: Path, *, settings: Mapping[str, Any],
                  params: Mapping[str, Any], rules: Sequence[RuleCount] = ()) -> dict[str, Path]:
    """Write trades.csv, equity.csv and result.json into `out_dir` (created if missing)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in ("trades.csv", "equity.csv", "result.json")}
    result.trades.write_csv(paths["trades.csv"], datetime_format=ISO_FORMAT)
    result.equity.write_csv(paths["equity.csv"], datetime_format=ISO_FORMAT)
    document = result_to_dict(result, settings=settings, params=params, rules=rules)
    # allow_nan=False: a NaN or inf that slipped past json_safe fails loudly instead of writing
    # a file that strict JSON parsers reject.
    text = json.dumps(document, indent=2, allow_nan=False)
    paths["result.json"].write_text(text + "\n", encoding="utf-8")
    return paths


def ruin_text(result: BacktestResult) -> str:
    """One line saying when the account was ruined (docs/execution.md, "Ruin")."""
    ruin = result.ruin
    beyond = f"; a loss of {ruin.shortfall:,.2f} beyond it was not carried" if ruin.shortfall else ""
    return (f"RUINED at {_time(ruin.time)} (bar {ruin.bar}): the equity reached zero, the position "
            f"was liquidated and nothing traded after it{beyond}")


def merged_settings(result: BacktestResult, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The execution config the run used, overridden/extended by the caller's settings."""
    return {**result.config.as_dict(), **settings}


def trade_records(trades: pl.DataFrame) -> list[dict[str, Any]]:
    """Trades as a list of dicts with ISO 8601 times."""
    times = [pl.col(name).dt.to_string(ISO_FORMAT) for name in ("entry_time", "exit_time")]
    return trades.select(TRADE_COLUMNS).with_columns(times).to_dicts()


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float replaced by None and numpy/paths/times made plain."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _infinite_paths(value: Any, path: str) -> list[str]:
    """Dotted paths of the infinite floats inside nested dicts (they become JSON null)."""
    if isinstance(value, Mapping):
        return [p for key, item in value.items() for p in _infinite_paths(item, f"{path}.{key}")]
    if isinstance(value, float) and math.isinf(value):
        return [path]
    return []


def _underlined(title: str) -> str:
    return f"{title}\n{'=' * len(title)}"


# Settings that are fractions of a price or notional: shown as the percentage the script wrote.
PERCENT_SETTINGS = ("fee", "slippage", "spread")


def _key_values(heading: str, values: Mapping[str, Any]) -> str:
    width = max(len(str(key)) for key in values)
    lines = [f"  {str(key):<{width}}  {setting_text(key, value)}" for key, value in values.items()]
    return "\n".join([f"{heading}:", *lines])


def setting_text(key: str, value: Any) -> str:
    if key in PERCENT_SETTINGS and isinstance(value, float):
        return f"{value * 100:.10g}%"
    return _plain(value)


# Left out of the terminal table (still in JSON, result.json and as an optimize objective):
# `annualized_return_pct` is arithmetic (mean bar return x bars per year, Sharpe's numerator), so
# on a ruined account it reads -962 % beside a CAGR of -99.99 %; the CAGR is the growth rate a
# reader means by "annual return".
TERMINAL_HIDDEN = frozenset({"annualized_return_pct"})
# The rows a reader sees, in the terminal and in the HTML report alike.
SUMMARY_ROWS = tuple(row for row in METRIC_ROWS if row[0] not in TERMINAL_HIDDEN)


def _metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    header = ["Metric", *(name.capitalize() for name in COLUMNS)]
    rows = [[label, *(metric_cell(metrics[column].get(key), unit) for column in COLUMNS)]
            for key, label, unit in SUMMARY_ROWS]
    return text_table(header, rows, right_from=1)


def _rules_table(rules: Sequence[RuleCount], *, bars: int) -> str:
    header = ["Line", "Rule", "Bars true"]
    rows = [[str(rule.line), rule.text, f"{rule.bars_true:,}"] for rule in rules]
    never = [rule for rule in rules if rule.bars_true == 0]
    note = (f"\n{len(never)} rule{'s' if len(never) != 1 else ''} never held: "
            + ", ".join(f"line {rule.line}" for rule in never)) if never else ""
    return f"Rules (bars on which the condition held, of {bars:,}):\n" + text_table(header, rows, right_from=2) + note


def _trades_table(trades: pl.DataFrame, *, last: int, price_decimals: int = 5) -> str:
    if last <= 0:  # --trades 0: no trade table at all, not an empty one
        return ""
    if trades.height == 0:
        return "Trades: none"
    shown = trades.tail(last)
    header = ["Side", "Entry time", "Entry", "Exit time", "Exit", "Qty", "P&L", "Return",
              "Bars", "Reason"]
    rows = [[row["side"], _time(row["entry_time"]), _number(row["entry_price"], price_decimals),
             _time(row["exit_time"]), _number(row["exit_price"], price_decimals), _number(row["qty"], 4),
             _number(row["pnl"], 2), metric_cell(row["return_pct"], "pct"),
             str(row["bars_held"]), row["exit_reason"] + ("*" if row["ambiguous"] else "")]
            for row in shown.iter_rows(named=True)]
    title = f"Last {shown.height:,} of {trades.height:,} trades:"
    note = "\n" + AMBIGUOUS_NOTE if shown["ambiguous"].any() else ""
    return title + "\n" + text_table(header, rows, right_from=2) + note


def metric_cell(value: Any, unit: str) -> str:
    """One table cell; blank when the metric does not exist for that column."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    if unit == "pct":
        return f"{value:,.2f} %"
    if unit == "money":
        return _number(value, 2)
    if unit == "count":
        return f"{value:,}"
    if unit == "number":
        return f"{value:,.1f}"
    if unit in ("bars", "days"):
        return f"{value:,.1f} {unit}" if isinstance(value, float) else f"{value:,} {unit}"
    return f"{value:,.3f}"


def _number(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def _plain(value: Any) -> str:
    return f"{value:,.10g}" if isinstance(value, float) else str(value)
