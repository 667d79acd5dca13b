"""What the pages show, read from disk: the store's series, the project's scripts, the Optuna
studies, the paper sessions. Plain data out; `pages` draws it."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..data.integrity import check_file
from ..data.intervals import INTERVALS, format_ms
from ..errors import UserError
from ..live.journal import journal_in
from .paths import shown

SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".tradebot", "build", "dist"})
MAX_SCRIPTS = 500


@dataclass(frozen=True)
class SeriesRow:
    category: str
    symbol: str
    interval: str
    path: Path
    first: str
    last: str
    rows: int
    gaps: int | None  # None: the integrity check could not read the file (see problem)
    updated: float
    size: int
    problem: str = ""


def store_series(store: Path) -> list[SeriesRow]:
    """Every `<category>/<SYMBOL>/<interval>.csv` of the store, with its integrity check."""
    if not store.is_dir():
        return []
    rows = []
    for path in sorted(store.glob("*/*/*.csv"), key=_series_order):
        if path.name.endswith(".filled.csv"):
            continue
        stat = path.stat()
        rows.append(_series_row(path, stat.st_mtime_ns, stat.st_size))
    return rows


def _series_order(path: Path) -> tuple[str, str, float, str]:
    """Category, symbol, then intervals by length (1m before 1h), unknown names last."""
    interval = INTERVALS.get(path.stem)
    length = float(interval.ms or 31 * 86_400_000) if interval else float("inf")
    return path.parent.parent.name, path.parent.name, length, path.stem


@lru_cache(maxsize=512)
def _series_row(path: Path, mtime_ns: int, size: int) -> SeriesRow:
    """Checked once per version of the file (its mtime and size), not on every page view."""
    category, symbol, interval = path.parent.parent.name, path.parent.name, path.stem
    try:
        report = check_file(path)
    except UserError as err:
        return SeriesRow(category, symbol, interval, path, "", "", 0, None, mtime_ns / 1e9, size,
                         err.render().splitlines()[0])
    return SeriesRow(category, symbol, interval, path,
                     format_ms(report.first_ms) if report.first_ms is not None else "",
                     format_ms(report.last_ms) if report.last_ms is not None else "",
                     report.rows, len(report.error_gaps), mtime_ns / 1e9, size)


def folder_size(folder: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            try:
                total += (Path(dirpath) / name).stat().st_size
            except OSError:
                continue
    return total


def scripts(project: Path) -> list[str]:
    """The .tbs files under the project folder (tool and environment folders skipped)."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(project):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
        found += [shown(Path(dirpath) / name, project) for name in sorted(filenames) if name.endswith(".tbs")]
        if len(found) >= MAX_SCRIPTS:
            break
    return found[:MAX_SCRIPTS]


MAX_REPORTS = 40


def reports(folder: Path) -> list[Path]:
    """The HTML reports under the project's reports folder, newest first (what `--report` wrote
    from the terminal as well as from the dashboard)."""
    if not folder.is_dir():
        return []
    found = sorted(folder.rglob("*.html"), key=lambda path: path.stat().st_mtime, reverse=True)
    return found[:MAX_REPORTS]


@dataclass(frozen=True)
class StudyRow:
    name: str
    trials: int
    direction: str
    best_value: float | None
    best_params: dict


def studies(storage: str) -> tuple[list[StudyRow], str]:
    """The studies in the Optuna storage with their best trial, and a note when there are none."""
    from ..optimize.study import open_storage, storage_url

    url = storage_url(storage)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        return [], f"no study yet: sweeps started here are stored in {storage}"
    import optuna

    try:
        summaries = optuna.get_all_study_summaries(open_storage(url), include_best_trial=True)
    except UserError as err:
        return [], err.render()
    rows = [StudyRow(s.study_name, s.n_trials, s.direction.name.lower(),
                     s.best_trial.value if s.best_trial else None,
                     dict(s.best_trial.params) if s.best_trial else {}) for s in summaries]
    return rows, "" if rows else f"no study in {storage}"


def sessions(folder: Path) -> list[Path]:
    """The paper (or live) session folders in `folder`, newest name first: those with a journal
    (live.outputs reads their other files back)."""
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.iterdir(), reverse=True)
            if path.is_dir() and journal_in(path).exists()]


def appended(path: Path, offset: int) -> tuple[str, int]:
    """The whole lines written to `path` since `offset` (a torn last line waits for its end), and
    the offset after them. Logs and journals are only appended to, so an offset is a bookmark."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return "", offset
    complete = data[: data.rfind(b"\n") + 1]
    return complete.decode("utf-8", errors="replace"), offset + len(complete)


def journal_events(path: Path, offset: int) -> tuple[list[dict], int]:
    """The journal entries appended since `offset`, and the new offset. A line that is not JSON is
    passed on as {"text": line}."""
    text, offset = appended(path, offset)
    events = []
    for line in text.splitlines():
        if line.strip():
            try:
                # The journal keeps NaN (a risk level not set) as Python's JSON does; a browser's
                # JSON.parse refuses it, so the page gets null there.
                value = _nan_as_none(json.loads(line))
                events.append(value if isinstance(value, dict) else {"value": value})
            except ValueError:
                events.append({"text": line})
    return events, offset


def _nan_as_none(value):
    """`value` with every NaN or infinity (anywhere in lists and dicts) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_nan_as_none(v) for v in value]
    if isinstance(value, dict):
        return {k: _nan_as_none(v) for k, v in value.items()}
    return value
