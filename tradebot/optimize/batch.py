"""Evaluating parameter combinations in vectorized batches.

A batch of combinations is checked one by one (a check with param overrides takes ~0.2 ms), then
grouped by their engine inputs and run through ONE Polars plan per block of groups
(`optimize/batched.py`): structurally equal subexpressions are computed once, so an RSI of length
14 is one column however many thresholds or stop distances are tried. The numba engine then runs
once per combination on that plan's columns through `engine.simulate`, the function a plain
`tradebot run` calls, and every metric comes from the same compiled pass (runtime/summary.py):
hence the same metrics, exactly. A trial is a row of numbers; trade and equity frames are built
only for the trials a report shows (`Evaluator.backtest`).

Memory stays bounded: the number of groups per plan comes from a memory budget and the size of
one combination's plan (its columns × bars), never from the number of combinations.

A window (bars [start, end)) restricts the backtest to part of the data for validation. The plan
still runs on every bar before `end`: indicators only read the past (the language guarantees it),
so the bars before `start` serve as warm-up and nothing after `end` is seen.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl

from ..errors import UserError
from ..heap import keep_freed_memory
from ..lang.checker import CheckedProgram, check
from ..lang.settings import COST_SETTINGS
from ..lang.parser import parse_program
from ..pipeline import OBJECTIVES, backtest_from_frame, compile_engine_plan
from ..runtime.engine import BacktestResult, Market
from ..runtime.summary import ALL_KEYS, COUNT_KEYS
from .batched import metric_rows
from .columns import ColumnCache
from .space import Candidates

DEFAULT_MEMORY_MB = 256
BYTES_PER_CELL = 8  # a float64 column cell; boolean outputs are cheaper, indicators are not
WORKING_COPIES = 2  # Polars holds a layer's inputs and outputs at once
MAX_BATCH = 256  # beyond this, larger batches stop paying and progress updates get rare
PARAM_PREFIX = "param."  # trial columns: `param.fast`, then the metrics (`sharpe`, ...)


@dataclass(frozen=True)
class Objective:
    """What a sweep ranks by: a metric, its direction, and the fewest trades a result needs."""

    metric: str
    maximize: bool = True
    min_trades: int = 0

    def sort_key(self, value: float) -> float:
        """Smaller is better (for sorting)."""
        return -value if self.maximize else value

    def score(self, metrics: Mapping[str, Any] | None) -> tuple[float | None, str]:
        """(objective value or None, status): "ok", "few_trades" or "error" (no metrics)."""
        if metrics is None:
            return None, "error"
        if metrics["trades"] < self.min_trades:
            return None, "few_trades"
        return float(metrics[self.metric]), "ok"

    def column(self, values: np.ndarray, have: np.ndarray, keys: tuple[str, ...]) -> tuple[pl.Series, np.ndarray]:
        """`score` over rows of numbers named by `keys` (`have`: the rows with metrics): the
        objective column (null where not ranked) and the status of each row."""
        trades = values[:, keys.index("trades")]
        ok = have & (trades >= self.min_trades)
        status = np.where(ok, "ok", np.where(have, "few_trades", "error"))
        objective = np.where(ok, values[:, keys.index(self.metric)], np.nan)
        return pl.Series("objective", objective, dtype=pl.Float64).fill_nan(None), status

    def better(self, a: float | None, b: float | None) -> bool:
        """Whether objective value `a` beats `b` (None, an infeasible result, never does)."""
        if a is None or (isinstance(a, float) and math.isnan(a)):
            return False
        return b is None or self.sort_key(a) < self.sort_key(b)


@dataclass(frozen=True)
class Window:
    """Bars [start, end) of the data."""

    start: int
    end: int

    @property
    def bars(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class EvaluatorSpec:
    """Everything needed to build an Evaluator, picklable for worker processes."""

    source: str
    filename: str
    bars: pl.DataFrame
    objective: Objective
    memory_mb: int = DEFAULT_MEMORY_MB
    cost_factor: float = 1.0  # 2.0: every cost in COST_SETTINGS doubled (the report's stress re-run)


class Evaluator:
    """Backtests combinations of one script's params on one data set."""

    def __init__(self, spec: EvaluatorSpec) -> None:
        keep_freed_memory()  # each trial's arrays reuse the last one's pages (heap.py)
        self.spec = spec
        self.bars = spec.bars
        self.objective = spec.objective
        self.program = parse_program(spec.source, spec.filename)
        self.base = self.check({})
        self._batch: int | None = None
        self._markets: dict[Window, Market] = {}
        # A quarter of the memory budget keeps indicators for the next batches, the rest is the plans'.
        self._columns = ColumnCache(self.spec.memory_mb * 2**20 // 4)

    def check(self, params: Mapping[str, float]) -> CheckedProgram:
        """The script checked with `params` as overrides (ScriptDiagnostics if it fails)."""
        checked = check(self.program, source=self.spec.source, filename=self.spec.filename,
                        overrides=params, objectives=OBJECTIVES)
        if self.spec.cost_factor == 1.0:
            return checked
        settings = dict(checked.settings)
        for name in COST_SETTINGS:
            settings[name] = settings[name] * self.spec.cost_factor
        return dataclasses.replace(checked, settings=settings)

    def batch_size(self) -> int:
        """Combinations per plan: the memory budget over one combination's columns × bars."""
        if self._batch is None:
            plan = compile_engine_plan([self.base])
            columns = sum(len(layer) for layer in plan.layers) + len(plan.outputs)
            per_combo = columns * BYTES_PER_CELL * WORKING_COPIES * max(self.bars.height, 1)
            self._batch = max(1, min(MAX_BATCH, self.spec.memory_mb * 2**20 * 3 // 4 // per_combo))
        return self._batch

    def run(self, candidates: Candidates, window: Window) -> pl.DataFrame:
        """One row per combination: position, grid index, params, metrics, objective, status."""
        rows = candidates.rows()
        errors: list[str | None] = [None] * len(rows)
        programs: dict[int, CheckedProgram] = {}
        for i, params in enumerate(rows):
            try:
                programs[i] = self.check(params)
            except UserError as err:
                errors[i] = _first_line(err)
        ready = list(programs)
        keys, counts, found = self.metric_rows([programs[i] for i in ready], window)
        values = np.full((len(rows), len(keys)), np.nan)
        values[ready] = found
        return self._frame(candidates, values, errors, keys=keys, counts=counts, evaluated=bool(ready))

    def metric_rows(self, programs: Sequence[CheckedProgram], window: Window
                    ) -> tuple[tuple[str, ...], frozenset[str], np.ndarray]:
        """(metric keys, those that are counts, one row of numbers per program): the batched path
        (batched.py). An evaluator whose runs are not one symbol's overrides it."""
        if not programs:
            return ALL_KEYS, COUNT_KEYS, np.empty((0, len(ALL_KEYS)))
        return ALL_KEYS, COUNT_KEYS, metric_rows(programs, self.bars.slice(0, window.end), self.market(window),
                                                 start=window.start, plan_size=self.batch_size(),
                                                 cache=self._columns)

    def market(self, window: Window) -> Market:
        """The window's bars as the engine reads them, prepared once per window (the last one
        only: validation searches its folds one after another)."""
        if window not in self._markets:
            if window.bars < 2:
                raise UserError("the data has fewer than 2 bars: nothing can be traded")
            self._markets = {window: Market.of(self.bars.slice(window.start, window.bars))}
        return self._markets[window]

    def backtests(self, programs: Sequence[CheckedProgram], window: Window) -> list[BacktestResult]:
        """Backtest several checked programs through one shared plan, with every frame."""
        plan = compile_engine_plan(programs)
        frame = plan.evaluate(self.bars.slice(0, window.end)).slice(window.start, window.bars)
        bars = self.bars.slice(window.start, window.bars)
        return [backtest_from_frame(p, bars, frame, prefix=f"{i}.") for i, p in enumerate(programs)]

    def backtest(self, params: Mapping[str, float], window: Window) -> BacktestResult:
        """One combination's full result (trades, equity), as a plain run would give it."""
        return self.backtests([self.check(params)], window)[0]

    def _frame(self, candidates: Candidates, values: np.ndarray, errors: list[str | None], *,
               keys: tuple[str, ...], counts: frozenset[str], evaluated: bool) -> pl.DataFrame:
        have = np.array([e is None for e in errors], dtype=bool)
        columns: dict[str, Any] = {
            "trial": candidates.positions, "grid_index": candidates.indices,
            **{PARAM_PREFIX + name: column for name, column in candidates.columns.items()},
        }
        if evaluated:  # no metric columns when every combination failed (as before: no keys)
            for k, key in enumerate(keys):  # NaN as missing while the column is made: no
                column = pl.Series(key, values[:, k], nan_to_null=True)  # query per key (0.1 ms each)
                columns[key] = column.cast(pl.Int64) if key in counts else column
        objective, status = self.objective.column(values, have, keys)
        columns["objective"] = objective
        columns["status"] = status  # a combination that failed its check has no metrics: "error"
        columns["error"] = pl.Series("error", errors, dtype=pl.String)
        return pl.DataFrame(columns, strict=False)


def rows_of_results(results: Sequence[Any]) -> tuple[tuple[str, ...], frozenset[str], np.ndarray]:
    """`Evaluator.metric_rows` from full results (their `metrics["all"]`), for evaluators that
    build them (portfolios)."""
    if not results:
        return ALL_KEYS, COUNT_KEYS, np.empty((0, len(ALL_KEYS)))
    first = results[0].metrics["all"]
    keys = tuple(first)
    counts = frozenset(k for k, v in first.items() if isinstance(v, int) and not isinstance(v, bool))
    return keys, counts, np.array([[float(r.metrics["all"][k]) for k in keys] for r in results])


def _first_line(err: UserError) -> str:
    diagnostics = getattr(err, "diagnostics", None)
    return diagnostics[0].message if diagnostics else str(err).splitlines()[0]


def param_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith(PARAM_PREFIX)]


def params_of(row: Mapping[str, Any]) -> dict[str, float]:
    """{param: value} from a trial row (as `--set` would take it)."""
    return {k[len(PARAM_PREFIX):]: _plain(v) for k, v in row.items() if k.startswith(PARAM_PREFIX)}


def _plain(value: Any) -> Any:
    number = float(value)
    return int(number) if number.is_integer() else number
