"""Presenting a sweep: the terminal report, and with `--out DIR` the files behind it.

Files: `report.txt` (what the terminal showed), `trials.csv` (every trial: params, all metrics,
objective, status), `best.json` (best params, metrics, checks), `folds.csv` and `oos_equity.csv` (with validation), and `manifest.json`: hashes of the script and
the data, the search settings and seed, and the versions, enough to reproduce the run. The CLI
adds `report.html`, the sweep drawn by tradebot/report (heatmaps, parallel coordinates, folds).
"""
from __future__ import annotations

import hashlib
import json
import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import polars as pl

from ..runtime.report import ISO_FORMAT, json_safe
from ..textkit import text_table
from .batch import PARAM_PREFIX, Window, param_columns, params_of
from .review import COST_FACTOR, Review
from .validate import DECAY_NA, decay, decay_undefined

KEY_METRICS = ("total_return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct", "profit_factor")
PACKAGES = ("tradebot", "polars", "numpy", "numba", "optuna")


@dataclass(frozen=True)
class RunInfo:
    """What was run, for the header and the manifest."""

    title: str
    script: Path
    data: Path
    method: str
    trials: int | None
    seed: int
    jobs: int
    storage: str | None
    study: str | None
    candidates: int | None  # combinations the sweep had to try (None for bayes)
    bars: int = 0  # bars in the data (a plain run's window)
    files: tuple[Path, ...] = ()  # a universe's files (`data` is then its glob)


def format_report(review: Review, info: RunInfo, *, top: int) -> str:
    sections = [_header(review, info), _top_table(review, top), _best(review, info)]
    sections += [_checks(review)] if review.best else []
    sections += [_validation(review)] if review.validation else []
    return "\n\n".join(s for s in sections if s) + "\n"


def _header(review: Review, info: RunInfo) -> str:
    search = review.search
    done = search.count
    goal = "maximize" if review.objective.maximize else "minimize"
    count = f"{done:,} of {info.candidates:,}" if info.candidates is not None else f"{done:,}"
    rate = done / search.elapsed if search.elapsed > 0 else 0.0
    title = f"Optimize {info.title}: {goal} {review.objective.metric} by {info.method}"
    lines = [title, "=" * len(title),
             f"{count} trials in {search.elapsed:.1f} s ({rate:,.1f}/s, {info.jobs} job{'s' * (info.jobs > 1)})"
             + (f", seed {info.seed}" if info.method != "grid" else "")  # a grid draws nothing
             + f", bars {review.window.start:,}..{review.window.end:,}"]
    if review.objective.min_trades:
        lines.append(f"results with fewer than {review.objective.min_trades} trades are not ranked")
    if search.interrupted:
        lines.append("interrupted: the results below cover the trials finished so far")
    return "\n".join(lines)


def _top_table(review: Review, top: int) -> str:
    if review.best is None:
        return "No trial produced a result to rank (see trials.csv for errors and trade counts)."
    rows = review.ranked.head(top)
    names = param_columns(rows)
    metrics = [review.objective.metric, *(m for m in KEY_METRICS if m != review.objective.metric)]
    header = ["#", *(n[len(PARAM_PREFIX):] for n in names), *metrics]
    oos = review.out_of_sample_top
    if oos is not None:
        header += [f"OOS {review.objective.metric}", "decay"]
    lines = []
    for rank, row in enumerate(rows.iter_rows(named=True)):
        cells = [str(rank + 1), *(_cell(row[n]) for n in names), *(_cell(row[m]) for m in metrics)]
        if oos is not None:
            outside = oos[rank][review.objective.metric] if oos[rank] else None
            cells += [_cell(outside), _decay(row["objective"], outside, maximize=review.objective.maximize)]
        lines.append(cells)
    kept = review.search.log is not None and review.search.log.spilled  # only the best are in memory
    of = f"the best {review.ranked.height:,} kept of {review.search.count:,} trials" if kept else \
        f"{review.ranked.height} distinct ranked param sets"
    text = f"Top {rows.height} of {of}:\n" + text_table(header, lines)
    return text + _decay_note(lines)


def _best(review: Review, info: RunInfo) -> str:
    if review.best is None:
        return ""
    params = params_of(review.best)
    sets = " ".join(f"--set {k}={v}" for k, v in params.items())
    lines = ["Best params: " + ", ".join(f"{k} = {v}" for k, v in params.items()),
             f"  same as: tradebot run {info.script} {sets}"]
    if review.window != Window(0, info.bars):
        lines[-1] += (f"  (that runs on all {info.bars:,} bars; the numbers above are for bars "
                      f"{review.window.start:,}..{review.window.end:,})")
    returned = review.best.get("total_return_pct")
    if returned is not None and returned <= 0:
        lines.append(f"No profitable parameters found: the best trial by {review.objective.metric} lost money "
                     f"(total return {_cell(returned)} %); every ranked trial lost money"
                     if _all_lose(review) else
                     f"Note: the best trial by {review.objective.metric} lost money (total return "
                     f"{_cell(returned)} %), though other trials made some")
    return "\n".join(lines)


def _all_lose(review: Review) -> bool:
    returns = review.ranked["total_return_pct"]
    return bool(returns.len()) and bool((returns.fill_null(0) <= 0).all())


def _checks(review: Review) -> str:
    lines = ["Overfitting checks:"]
    trials = review.search.evaluated("trial").height
    dsr = "n/a (flat returns)" if review.deflated_sharpe is None else f"{review.deflated_sharpe:.3f}"
    lines.append(f"  deflated Sharpe ratio: {dsr} over {trials:,} trials (probability that the best Sharpe "
                 "beats what the best of that many unskilled trials would show; Bailey & López de Prado 2014)")
    lines.append("  " + _stability_line(review))
    doubled = review.doubled_costs or {}
    metric = review.objective.metric
    lines.append(f"  costs x{COST_FACTOR:g} (fees, slippage and spread): {metric} {_cell(doubled.get(metric))} "
                 f"(was {_cell(review.best[metric])}), total return {_cell(doubled.get('total_return_pct'))} % "
                 f"(was {_cell(review.best['total_return_pct'])} %)")  # type: ignore[index]
    return "\n".join(lines)


def _stability_line(review: Review) -> str:
    s = review.stability
    if s is None or not s.neighbours:
        return "parameter stability: n/a (no evaluated grid neighbours)"
    drop = s.drop(maximize=review.objective.maximize)
    return (f"parameter stability: {len(s.neighbours)} grid neighbours average {s.mean:.4g} "
            f"(worst {s.worst:.4g}) vs {s.value:.4g} at the best: {_pct(drop)} worse")


def _validation(review: Review) -> str:
    result = review.validation
    assert result is not None
    v = result.validation
    kind = (f"split {v.train_fraction:.0%} in-sample" if v.kind == "split"
            else f"walk-forward, {v.folds} folds, {'anchored' if v.anchored else 'rolling'}")
    metric = review.objective.metric
    header = ["fold", "train bars", "test bars", "params", f"IS {metric}", f"OOS {metric}", "decay", "OOS return %"]
    rows = []
    for fold in result.folds:
        best, oos = fold.best, fold.test_metrics or {}
        params = ", ".join(f"{k}={v}" for k, v in params_of(best).items()) if best else "-"
        rows.append([str(fold.fold.number), f"{fold.fold.train.start}..{fold.fold.train.end}",
                     f"{fold.fold.test.start}..{fold.fold.test.end}", params,
                     _cell(best["objective"] if best else None), _cell(oos.get(metric)),
                     _decay(best["objective"] if best else None, oos.get(metric),
                            maximize=review.objective.maximize),
                     _cell(oos.get("total_return_pct"))])
    stitched = result.stitched_metrics
    summary = (f"stitched out-of-sample: total return {_cell(stitched.get('total_return_pct'))} %, sharpe "
               f"{_cell(stitched.get('sharpe'))}, max drawdown {_cell(stitched.get('max_drawdown_pct'))} %"
               if stitched else "stitched out-of-sample: no test window ran"
               + (" (the search was interrupted first)" if result.interrupted else ""))
    return f"Validation ({kind}):\n" + text_table(header, rows) + _decay_note(rows) + "\n" + summary


def _decay(in_sample: float | None, out_of_sample: float | None, *, maximize: bool) -> str:
    if decay_undefined(in_sample, out_of_sample):
        return "n/a"
    return _pct(decay(in_sample, out_of_sample, maximize=maximize))


def _decay_note(rows: Sequence[Sequence[str]]) -> str:
    return "\n" + DECAY_NA if any("n/a" in row for row in rows) else ""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "inf" if value == float("inf") else f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def _pct(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.0f}%"


# ---------------------------------------------------------------- files
def write_files(review: Review, info: RunInfo, out_dir: Path, *, text: str) -> list[Path]:
    """Write the report's files into `out_dir` (created if missing); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"report.txt": text}
    review.search.write_csv(out_dir / "trials.csv")
    written["best.json"] = _json(best_document(review))
    if review.validation is not None:
        folds_frame(review).write_csv(out_dir / "folds.csv")
        review.validation.stitched.write_csv(out_dir / "oos_equity.csv", datetime_format=ISO_FORMAT)
    written["manifest.json"] = _json(manifest(review, info))
    for name, content in written.items():
        (out_dir / name).write_text(content, encoding="utf-8")
    names = ["trials.csv", *written, *(["folds.csv", "oos_equity.csv"] if review.validation else [])]
    return [out_dir / n for n in names]


def best_document(review: Review) -> dict[str, Any]:
    best = review.best
    s = review.stability
    return {
        "objective": {"metric": review.objective.metric, "maximize": review.objective.maximize,
                      "min_trades": review.objective.min_trades},
        "params": params_of(best) if best else None,
        "metrics": review.best_run.metrics["all"] if review.best_run else None,
        "deflated_sharpe": review.deflated_sharpe,
        "stability": None if s is None else {"value": s.value, "neighbours": list(s.neighbours)},
        "doubled_costs": review.doubled_costs,
        "interrupted": review.search.interrupted,
    }


def folds_frame(review: Review) -> pl.DataFrame:
    metric = review.objective.metric
    rows = []
    for fold in review.validation.folds:  # type: ignore[union-attr]
        best, oos = fold.best or {}, fold.test_metrics or {}
        rows.append({"fold": fold.fold.number, "train_start": fold.fold.train.start,
                     "train_end": fold.fold.train.end, "test_start": fold.fold.test.start,
                     "test_end": fold.fold.test.end, "params": json.dumps(params_of(best)) if best else None,
                     f"is_{metric}": best.get("objective"), f"oos_{metric}": oos.get(metric),
                     "oos_total_return_pct": oos.get("total_return_pct")})
    return pl.DataFrame(rows, strict=False)


def manifest(review: Review, info: RunInfo) -> dict[str, Any]:
    """Everything needed to reproduce the sweep and check it is the same one."""
    return {
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": sys.argv,
        "script": {"path": str(info.script), "sha256": sha256_file(info.script)},
        "data": {"path": str(info.data), "sha256": sha256_file(info.data),
                 "bars": review.window.end - review.window.start,
                 **({"files": {str(p): sha256_file(p) for p in info.files}} if info.files else {})},
        "search": {"method": info.method, "trials": info.trials,
                   "seed": info.seed if info.method != "grid" else None, "jobs": info.jobs,
                   "storage": info.storage, "study": info.study, "objective": review.objective.metric,
                   "maximize": review.objective.maximize, "min_trades": review.objective.min_trades},
        "best_params": params_of(review.best) if review.best else None,
        "versions": {"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}},
    }


def sha256_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _json(document: Mapping[str, Any]) -> str:
    return json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n"
