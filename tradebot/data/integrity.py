"""Integrity report for a candle file: gaps, duplicates, out-of-order rows, invalid rows, torn tail,
zero-volume runs and synthetic (filled) candles.

Unlike `load_ohlcv`, which stops at the first problem, the check reads the file leniently and lists
every problem with its line. Errors (exit code 1 from `tradebot data check`): torn tail, invalid
rows, duplicates, out-of-order rows, gaps. Warnings (exit 0): zero-volume runs, which Bybit itself
produces for periods without trades (PROTOCOL.md §2.2), and candles filled by `data repair --fill`.

Gaps that are weekend closures (sessions.py) are tagged; with `weekends_closed` they are accepted
and only counted, without it they stay errors and the verdict says how to accept them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from ..market.timeframe import infer_interval_ms
from .intervals import INTERVALS, Interval, format_ms, parse_interval, to_ms
from .loader import parse_with_layout, read_bytes
from .schema import VALUE_CHECKS
from .sessions import ClosureKind, closure_kinds
from .store import describe_range, filled_path

FIRST_LINE = 2
SHOWN_PER_KIND = 10


@dataclass(frozen=True)
class Gap:
    """Candles missing between two stored ones: the first and last missing start, and the count."""

    first_ms: int
    last_ms: int
    missing: int
    closure: ClosureKind | None = None  # set by `check_file` when the gap is a market closure

    def describe(self, *, note_closure: bool = False) -> str:
        span = format_ms(self.first_ms) if self.missing == 1 else \
            f"{format_ms(self.first_ms)} .. {format_ms(self.last_ms)}"
        note = " (weekend closure)" if note_closure and self.closure else ""
        return f"gap: {self.missing} candle(s) missing: {span}{note}"


@dataclass(frozen=True)
class Finding:
    """One problem; `line` is the 1-based file line when the problem belongs to one row."""

    kind: str
    detail: str
    line: int | None = None
    error: bool = True


@dataclass(frozen=True)
class Report:
    path: Path
    interval: Interval | None
    rows: int
    first_ms: int | None
    last_ms: int | None
    gaps: tuple[Gap, ...] = ()  # every gap, accepted weekend closures included: see error_gaps
    findings: tuple[Finding, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)  # findings per kind, before the limit
    weekends_closed: bool = False

    def is_accepted(self, gap: Gap) -> bool:
        """A weekend closure is no error when the market is declared closed at weekends."""
        return self.weekends_closed and gap.closure is not None

    @property
    def accepted(self) -> tuple[Gap, ...]:
        return tuple(g for g in self.gaps if self.is_accepted(g))

    @property
    def error_gaps(self) -> tuple[Gap, ...]:
        return tuple(g for g in self.gaps if not self.is_accepted(g))

    @property
    def clean(self) -> bool:
        return not self.error_gaps and not any(f.error for f in self.findings)

    def render(self, *, bybit_store: bool = True) -> str:
        """The report. `bybit_store`: the path is in the Bybit store layout, so `data repair` can
        refetch it, and its market trades 24/7, so a weekend gap there is simply missing data."""
        span = describe_range(self.first_ms, self.last_ms)
        every = self.interval.name if self.interval else "unknown interval"
        lines = [f"{self.path}: {self.rows} rows, {every}, {span}"]
        for finding in self.findings:
            where = f"{self.path}:{finding.line}: " if finding.line else f"{self.path}: "
            level = "error" if finding.error else "warning"
            lines.append(f"  {level}: {where}{finding.detail}")
        lines += [f"  error: {gap.describe(note_closure=not bybit_store)}"
                  for gap in self.error_gaps[:SHOWN_PER_KIND]]
        counts = {**self.counts, "gaps": len(self.error_gaps)}
        lines += [f"  ... and {n - SHOWN_PER_KIND} more {kind}" for kind, n in counts.items()
                  if n > SHOWN_PER_KIND]
        if self.accepted:
            lines.append(f"  {accepted_note(self.accepted)}")
        lines.append(f"  {self.verdict(bybit_store=bybit_store)}")
        return "\n".join(lines)

    def verdict(self, *, bybit_store: bool) -> str:
        if self.clean:
            return "OK"
        fix = repair_hint(self.path, self.interval, bybit_store=bybit_store)
        weekend = 0 if bybit_store else sum(g.closure is not None for g in self.error_gaps)
        if not weekend:
            return f"NOT CLEAN: {fix}"
        gaps = len(self.error_gaps)
        if weekend == gaps and not any(f.error for f in self.findings):
            return f"NOT CLEAN: {weekend_gaps_only(gaps)}"
        return (f"NOT CLEAN: {weekend} of {gaps} gaps are weekend closures (pass --weekends "
                f"closed to accept them);\n    for the rest, {fix}")


def weekend_gaps_only(count: int) -> str:
    """The verdict when weekend closures are the only errors: no repair, just the flag."""
    if count == 1:
        return ("the only gap is a weekend closure (FX/equity hours); pass --weekends closed "
                "to accept it")
    return (f"all {count} gaps are weekend closures (FX/equity hours); pass --weekends closed "
            "to accept them")


def accepted_note(accepted: tuple[Gap, ...]) -> str:
    holidays = sum(g.closure == "holiday" for g in accepted)
    extra = f" ({holidays} include 25 Dec or 1 Jan)" if holidays else ""
    return f"weekends closed: accepted {len(accepted)} weekend closure(s){extra}"


def repair_hint(path: Path, interval: Interval | None, *, bybit_store: bool) -> str:
    """What the user can do about the errors: `data repair` only helps when it can tell which
    Bybit series the file holds, and only for data that came from Bybit in the first place."""
    if bybit_store:
        return "run `tradebot data repair` on it"
    every = interval.name if interval else "INTERVAL"
    command = (f"tradebot data repair {path} --category CATEGORY --symbol SYMBOL "
               f"--interval {every}")
    return ("the file is not in the Bybit store layout <category>/<SYMBOL>/<interval>.csv:\n"
            f"    if it holds Bybit candles, run `{command}`\n"
            f"    otherwise `tradebot data repair {path}` fixes a torn tail, duplicates and order,\n"
            "    and for gaps, re-export the data from its source")


def interval_from_path(path: Path) -> Interval | None:
    """The store names files after their interval (`1h.csv`); anything else: None."""
    try:
        return parse_interval(path.stem)
    except Exception:  # noqa: BLE001 - not a store file name
        return None


def split_torn(data: bytes) -> tuple[bytes, int]:
    """(complete part, torn byte count): a store line is only complete with its newline."""
    keep = data.rfind(b"\n") + 1
    return data[:keep], len(data) - keep


def check_file(path: str | Path, *, interval: Interval | None = None,
               min_zero_run: int = 3, weekends_closed: bool = False) -> Report:
    """Every problem in `path`; with `weekends_closed`, weekend closures are not errors."""
    path = Path(path)
    data, torn = split_torn(read_bytes(path))
    frame, layout = parse_with_layout(data, path)
    first_line = 1 + layout.has_header
    interval = interval or interval_from_path(path) or _guess_interval(frame)
    findings: list[Finding] = []
    if torn:
        findings.append(Finding("torn_tail", f"last line is incomplete ({torn} bytes without a "
                                "newline): a write was interrupted", line=frame.height + first_line))
    findings += row_findings(frame, first_line)
    ordered = frame.drop_nulls("timestamp").unique("timestamp", keep="last").sort("timestamp")
    gaps = tag_closures(find_gaps(ordered, interval)) if interval else []
    findings += zero_volume_runs(ordered, min_zero_run)
    filled = _count_filled(path)
    if filled:
        findings.append(Finding("filled", f"{filled} synthetic candle(s) made by `data repair "
                                f"--fill` (listed in {filled_path(path).name})", error=False))
    shown = _limit_per_kind(findings)
    first, last = _span(ordered)
    return Report(path, interval, frame.height, first, last, tuple(gaps), tuple(shown),
                  _counts(findings), weekends_closed=weekends_closed)


def row_findings(frame: pl.DataFrame, first_line: int = FIRST_LINE) -> list[Finding]:
    """Invalid values, duplicates and out-of-order rows, each with its line (`first_line`: the
    line of row 0; 1 in a file without a header)."""
    flags = frame.select(
        *[c.bad.fill_null(False).alias(f"v{k}") for k, c in enumerate(VALUE_CHECKS)],
        pl.col("timestamp").is_duplicated().and_(pl.col("timestamp").cum_count().over(
            "timestamp") > 1).alias("dup"),
        # A descent marks the row right after a misplaced one, so one misplaced row is one finding.
        (pl.col("timestamp") < pl.col("timestamp").shift(1)).fill_null(False).alias("order"),
    )
    found: list[tuple[int, Finding]] = []
    for k, check in enumerate(VALUE_CHECKS):
        for i in flags[f"v{k}"].arg_true().head(SHOWN_PER_KIND + 1):
            found.append((i, Finding(check.kind, f"field '{check.field}': "
                                     f"{check.message(frame, i)}", line=i + first_line)))
    for name, text in (("dup", "duplicate timestamp"), ("order", "out of order: earlier than the "
                                                        "row above")):
        for i in flags[name].arg_true():
            stamp = format_ms(to_ms(frame["timestamp"][i]))
            found.append((i, Finding(name, f"{text} ({stamp})", line=i + first_line)))
    return [f for _, f in sorted(found, key=lambda p: p[0])]


def find_gaps(ordered: pl.DataFrame, interval: Interval) -> list[Gap]:
    """Missing candle starts between consecutive rows of a sorted, unique frame."""
    if ordered.height < 2:
        return []
    steps = ordered.select(
        pl.col("timestamp").dt.offset_by(interval.polars_every).alias("expected"),
        pl.col("timestamp").shift(-1).alias("next"),
    ).filter(pl.col("next") > pl.col("expected"))
    gaps = []
    for expected, following in steps.iter_rows():
        first = to_ms(expected)
        last = _previous_start(interval, to_ms(following))
        gaps.append(Gap(first, last, interval.count_between(first, last)))
    return gaps


def tag_closures(gaps: list[Gap]) -> list[Gap]:
    """The gaps with `closure` set on those that are weekend closures."""
    kinds = closure_kinds([(g.first_ms, g.last_ms) for g in gaps])
    return [replace(g, closure=kind) for g, kind in zip(gaps, kinds)]


def zero_volume_runs(ordered: pl.DataFrame, min_run: int) -> list[Finding]:
    if ordered.height == 0:
        return []
    runs = (ordered.with_columns((pl.col("volume") == 0).alias("zero"))
            .with_columns(pl.col("zero").rle_id().alias("run"))
            .filter(pl.col("zero"))
            .group_by("run").agg(pl.col("timestamp").min().alias("a"),
                                 pl.col("timestamp").max().alias("b"), pl.len().alias("n"))
            .filter(pl.col("n") >= min_run).sort("a"))
    return [Finding("zero_volume", f"{n} zero-volume candles in a row: "
                    f"{format_ms(to_ms(a))} .. {format_ms(to_ms(b))}", error=False)
            for _, a, b, n in runs.iter_rows()]


def _previous_start(interval: Interval, start_ms: int) -> int:
    if interval.ms is not None:
        return start_ms - interval.ms
    return interval.floor(start_ms - 1)


def _guess_interval(frame: pl.DataFrame) -> Interval | None:
    step = infer_interval_ms(frame["timestamp"].drop_nulls().dt.epoch("ms").to_numpy())
    return next((i for i in INTERVALS.values() if step is not None and i.ms == step), None)


def _count_filled(path: Path) -> int:
    sidecar = filled_path(path)
    if not sidecar.exists():
        return 0
    return max(0, len(sidecar.read_bytes().splitlines()) - 1)


def _counts(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    return counts


def _limit_per_kind(findings: list[Finding]) -> list[Finding]:
    seen: dict[str, int] = {}
    shown = []
    for finding in findings:
        seen[finding.kind] = seen.get(finding.kind, 0) + 1
        if seen[finding.kind] <= SHOWN_PER_KIND:
            shown.append(finding)
    return shown


def _span(ordered: pl.DataFrame) -> tuple[int | None, int | None]:
    if ordered.height == 0:
        return None, None
    return to_ms(ordered["timestamp"][0]), to_ms(ordered["timestamp"][-1])
