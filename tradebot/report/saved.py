"""A backtest report from a run's `--out` folder, so it can be re-rendered later
(`tradebot report DIR`) without running the script again.

`--out` writes trades.csv, equity.csv and result.json (runtime/report.py); for the report it adds
series.csv (the named series per bar) and report.json (the page's title, the bars' absolute path
and each trade's stop and target). A portfolio run's folder (runtime/portfolio_report.py) has
symbol_equity.csv, and its report.json names each symbol's file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import polars as pl

from ..data.loader import load_ohlcv
from ..data.panel import load_panel
from ..errors import UsageError, UserError
from .backtest import page_from_parts, trade_levels
from .model import BacktestPage, PortfolioPage
from .portfolio import page_from_parts as portfolio_parts
from .runs import RunData

SERIES_FILE = "series.csv"
EXTRAS_FILE = "report.json"
NEEDED = ("equity.csv", "trades.csv", "result.json")
PORTFOLIO_FILE = "symbol_equity.csv"  # written by a portfolio run's --out only


def write_extras(out_dir: Path, run: RunData, *, title: str, data: Path) -> list[Path]:
    """series.csv and report.json beside what `write_outputs` wrote."""
    out_dir.mkdir(parents=True, exist_ok=True)
    series = pl.DataFrame({"timestamp": run.result.equity["timestamp"], **run.series})
    series.write_csv(out_dir / SERIES_FILE, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")
    stops, targets, notes = trade_levels(run.result.trades, run.result.config, run.levels)
    extras = {"title": title, "data": str(Path(data).resolve()), "capital": run.result.config.capital,
              "stops": _nullable(stops), "targets": _nullable(targets), "notes": notes}
    (out_dir / EXTRAS_FILE).write_text(json.dumps(extras, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return [out_dir / SERIES_FILE, out_dir / EXTRAS_FILE]


def write_portfolio_extras(out_dir: Path, *, title: str, capital: float, files: Mapping[str, Path]) -> Path:
    """report.json beside what `write_portfolio` wrote: the page's title and each symbol's file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    extras = {"kind": "portfolio", "title": title, "capital": capital,
              "files": {symbol: str(Path(path).resolve()) for symbol, path in files.items()}}
    (out_dir / EXTRAS_FILE).write_text(json.dumps(extras, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return out_dir / EXTRAS_FILE


def page_from_folder(folder: Path) -> BacktestPage | PortfolioPage:
    """The report of the run saved in `folder`; what is missing (the bars moved, no series.csv
    from an older tradebot) is left out and said on the page."""
    folder = Path(folder)
    missing = [name for name in NEEDED if not (folder / name).is_file()]
    if missing and (folder / "trials.csv").is_file():
        raise UsageError(f"{folder} holds a sweep: its report is {folder / 'report.html'}, written with it")
    if missing:
        raise UsageError(f"{folder}: no {', '.join(missing)} here: point at a folder written by "
                         "`tradebot run SCRIPT --out DIR`")
    if (folder / PORTFOLIO_FILE).is_file():
        return _portfolio_page(folder)
    result = _read_json(folder / "result.json")
    extras = _read_json(folder / EXTRAS_FILE) if (folder / EXTRAS_FILE).is_file() else {}
    settings = result.get("settings", {})
    equity = pl.read_csv(folder / "equity.csv", try_parse_dates=True)
    trades = pl.read_csv(folder / "trades.csv", try_parse_dates=True,
                         schema_overrides={"side": pl.String, "exit_reason": pl.String})
    notes = list(extras.get("notes", []))
    bars = _bars(extras.get("data") or settings.get("data"), equity.height, notes)
    series = _series(folder / SERIES_FILE, equity.height, notes)
    n = trades.height
    stops = np.array([np.nan if v is None else v for v in extras.get("stops", [None] * n)], dtype=np.float64)
    targets = np.array([np.nan if v is None else v for v in extras.get("targets", [None] * n)], dtype=np.float64)
    return page_from_parts(
        title=extras.get("title") or settings.get("strategy") or folder.name,
        capital=float(extras.get("capital") or settings.get("capital") or equity["equity"][0]),
        equity=equity, trades=trades, metrics=_metrics(result), bars=bars, series=series,
        stops=stops, targets=targets, settings=settings, params=result.get("params", {}), notes=notes)


def _portfolio_page(folder: Path) -> PortfolioPage:
    """A portfolio run's page from its folder: the account, each symbol's P&L and the trades from
    the files, the candles from the symbols' files if they are still there and unchanged in length."""
    result = _read_json(folder / "result.json")
    extras = _read_json(folder / EXTRAS_FILE) if (folder / EXTRAS_FILE).is_file() else {}
    settings = result.get("settings", {})
    symbols = list(result.get("symbols", []))
    equity = pl.read_csv(folder / "equity.csv", try_parse_dates=True)
    trades = pl.read_csv(folder / "trades.csv", try_parse_dates=True,
                         schema_overrides={"symbol": pl.String, "side": pl.String, "exit_reason": pl.String})
    held = pl.read_csv(folder / PORTFOLIO_FILE, schema_overrides={"symbol": pl.String})
    pnl = np.column_stack([held.filter(pl.col("symbol") == s)["pnl"].to_numpy() for s in symbols]) \
        if symbols else np.zeros((equity.height, 0))
    notes: list[str] = []
    prices = _universe_prices(extras.get("files") or {}, symbols, equity, notes)
    matrix = result.get("correlation", {})
    correlation = np.array([[np.nan if matrix.get(a, {}).get(b) is None else matrix[a][b] for b in symbols]
                            for a in symbols], dtype=np.float64).reshape(len(symbols), len(symbols))
    return portfolio_parts(
        title=extras.get("title") or settings.get("strategy") or folder.name,
        capital=float(extras.get("capital") or settings.get("capital") or equity["equity"][0]),
        equity=equity, trades=trades, metrics=_metrics(result), per_symbol=result.get("per_symbol", {}),
        symbols=symbols, correlation=correlation, prices=prices, pnl=pnl, settings=settings,
        params=result.get("params", {}), notes=notes)


def _universe_prices(files: Mapping[str, str], symbols: list[str], equity: pl.DataFrame,
                     notes: list[str]) -> dict[str, np.ndarray] | None:
    """The symbols' prices on the run's timeline, from their files; None (said in `notes`) when a
    file is missing or no longer gives the run's timeline."""
    if sorted(files) != sorted(symbols):
        notes.append("the run did not record its symbols' files: no candles")
        return None
    try:
        panel = load_panel({symbol: Path(path) for symbol, path in files.items()})
    except UserError as err:
        notes.append(f"the symbols' bars could not be read ({err}): no candles")
        return None
    if len(panel.timestamps) != equity.height:
        notes.append(f"the symbols' files now give {len(panel.timestamps)} bars, the run had {equity.height}: no candles")
        return None
    return dict(panel.prices)


def _metrics(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """result.json's metrics with the infinities its notes name restored (JSON has no inf)."""
    metrics = result.get("metrics", {})
    for note in result.get("notes", []):
        path = note.split(":", 1)[0].split(".")
        if len(path) == 3 and path[0] == "metrics" and path[1] in metrics:
            metrics[path[1]][path[2]] = float("inf")
    return metrics


def _bars(path: str | None, rows: int, notes: list[str]) -> pl.DataFrame | None:
    if not path:
        notes.append("the run did not record its bars' file: no candles")
        return None
    try:
        bars = load_ohlcv(Path(path))
    except UserError as err:
        notes.append(f"the bars could not be read ({err}): no candles")
        return None
    if bars.height != rows:
        notes.append(f"{path} now has {bars.height} bars, the run had {rows}: no candles")
        return None
    return bars


def _series(path: Path, rows: int, notes: list[str]) -> dict[str, np.ndarray]:
    if not path.is_file():
        notes.append(f"no {SERIES_FILE} in the folder: the script's named series are not drawn")
        return {}
    frame = pl.read_csv(path)
    if frame.height != rows:
        notes.append(f"{path} has {frame.height} rows, the equity {rows}: series not drawn")
        return {}
    return {name: frame[name].cast(pl.Float64).to_numpy() for name in frame.columns if name != "timestamp"}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read it as JSON: {exc}") from None


def _nullable(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]
