"""Shared plumbing for the library modules: Polars helpers for the lowerings and the glue that
runs the numba kernels over a plan's columns (the naive building blocks the reference
implementations are written with are in naive.py).

Missing values (docs/builtins.md, "Missing values"), implemented here once:
- a *window* (rolling mean, highest, a shift) is missing when any bar it reads is missing;
- a *recursion* (EMA, Wilder, KAMA, SAR, running totals) skips missing bars: it runs over the bars
  that have every input, as if the others were absent, and is missing on the skipped bars;
- the fields of a multi-output indicator are missing together (TA-Lib reports all of them from
  the same bar);
- results that are not real numbers (0/0, inf - inf) are missing, never NaN.
"""
from __future__ import annotations

import importlib
from contextlib import contextmanager
from functools import lru_cache
from math import isfinite, isnan
from contextvars import ContextVar
from typing import Callable, Iterator, Sequence

import numpy as np
import polars as pl


def _resolve_polars_numpy_proxy() -> None:
    """Polars imports numpy through a lazy proxy module whose first attribute access is not thread
    safe: it copies numpy's namespace into the proxy, numpy's own `numpy._globals` submodule then
    shadows the proxy's `_globals` dict, and a second thread already inside the proxy's first access
    fails with "'module' object does not support item assignment". Our UDFs build Series from
    numpy arrays on Polars' thread pool (seen failing in a sweep worker), so the proxy is resolved
    once here, on the importing thread."""
    try:
        from polars import _dependencies
    except ImportError:  # a Polars without the lazy proxy has nothing to resolve
        return
    getattr(getattr(_dependencies, "numpy", np), "ndarray", None)


_resolve_polars_numpy_proxy()

# numba types an array argument by asking `isinstance(value, np.ma.MaskedArray)`, and numpy
# imports `numpy.ma` lazily at that first access. Two of Polars' threads making it at once (two
# indicator UDFs of one plan: the first kernel calls of a process) can find the submodule imported
# but not yet bound on numpy, whose lazy `__getattr__` then calls itself until RecursionError
# (seen in a million-bar `tradebot run`). Imported here, on the importing thread, it never races.
import numpy.ma  # noqa: E402,F401


# TA-Lib's fixed zero band for dimensionless ratios (RSI, DX): |v| < 1e-14 counts as 0.
TA_EPSILON = 1e-14


# ------------------------------------------------------------------ Polars side

_SCRATCH: ContextVar[list[tuple[str, pl.Expr]] | None] = ContextVar("scratch", default=None)


def share(expr: pl.Expr) -> pl.Expr:
    """`expr` computed once, as a column of its own, however often the lowering uses it.

    Polars 2.1 does not eliminate a repeated window inside one expression (`x.rolling_max(n)`
    written twice runs twice), so a lowering that reuses an intermediate passes it through here;
    the compiler adds the column before the builtin's own (`scratch_columns`). Outside the
    compiler the expression is used inline."""
    pending = _SCRATCH.get()
    if pending is None:
        return expr
    name = f"{pending[0][0]}{len(pending)}"
    pending.append((name, expr))
    return pl.col(name)


_HEAD = pl.lit(None)


@contextmanager
def scratch_columns(prefix: str) -> Iterator[list[tuple[str, pl.Expr]]]:
    """Collects the intermediates `share` creates while a lowering runs, as (column, expr) in
    creation order (later ones may read earlier ones); names start with `prefix`."""
    pending: list[tuple[str, pl.Expr]] = [(prefix, _HEAD)]  # the head only carries the prefix
    token = _SCRATCH.set(pending)
    try:
        yield pending
    finally:
        _SCRATCH.reset(token)
        del pending[0]


def divide(numerator: pl.Expr, denominator: pl.Expr, *, zero: float | None = None) -> pl.Expr:
    """numerator / denominator; where the denominator is 0, `zero` (missing by default); where
    both are infinite, missing (inf / inf is not a number: never NaN as a value)."""
    quotient = (numerator / denominator).fill_nan(None)
    if zero is None:
        return pl.when(denominator != 0).then(quotient)
    return pl.when(denominator != 0).then(quotient).when(denominator.is_not_null()).then(zero)


def any_missing(*exprs: pl.Expr) -> pl.Expr:
    missing = exprs[0].is_null()
    for other in exprs[1:]:
        missing = missing | other.is_null()
    return missing


def rolling_weighted(expr: pl.Expr, weights: Sequence[float] | Callable[[], np.ndarray],
                     divisor: float = 1.0) -> pl.Expr:
    """sum(weights[i] * x[t - (n-1) + i]) / divisor: oldest bar first; missing if any bar is
    missing. `weights` may be a function that makes them: it runs only when the plan is
    evaluated, so checking a script with a huge window builds no window-sized array.

    A kernel: Polars' weighted window took 17 ms for 1M bars where TA-Lib's WMA takes 1.4."""
    made = weights if callable(weights) else (lambda: np.asarray(weights, dtype=np.float64))
    return window("weighted_sum", [expr], _Deferred(made), float(divisor), summed=True)


class _Deferred:
    """A kernel parameter made when the kernel runs, not when the plan is built."""

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


def rolling_sum(expr: pl.Expr, n: int, *, mean: bool = False) -> pl.Expr:
    """The sum (with `mean`, the mean) of the last n values; missing if any bar is missing. A
    kernel: Polars' `rolling_sum` took 6.5 ms for 1M bars where TA-Lib's SUM takes 1.3."""
    return window("window_sums", [expr], n, float(n) if mean else 1.0, module="sums", summed=True)


def volume_weighted(src: pl.Expr, volume: pl.Expr, n: int) -> pl.Expr:
    """sum(src * volume) / sum(volume) over the last n bars; missing where the volume sum is 0
    or a bar is missing. A kernel: two Polars `rolling_sum`s and a division took 19 ms for 1M bars."""
    return window("ratio_of_sums", [src, volume], n, True, module="sums", summed=True)


def difference(expr: pl.Expr, n: int) -> pl.Expr:
    """expr - expr[n]: missing on the first n bars and where either bar is missing, and where
    infinities of one sign meet (inf - inf is not a number: missing, never NaN). Without a
    missing value, a kernel behind a chunk of n nulls (`windows.difference`, whose sum says
    whether a value is NaN): Polars' `x - x.shift(n)` builds the shifted column first (mom(close,
    10) 0.65 ms for 1M bars that way, TA-Lib's MOM 0.26)."""
    resolve = _resolver("windows", "difference")

    def run(series: pl.Series, **_options: object) -> pl.Series:  # options: see `kernel`
        values = series.cast(pl.Float64)
        if values.null_count() or not 0 < n < len(values):
            return (values - values.shift(n)).fill_nan(None)
        result = np.empty(len(values) - n)
        probe = resolve()(values.to_numpy(), n, result)
        return _behind_nulls(n, _series(result, nan_to_null=isnan(probe)))

    return expr.map_batches(run, return_dtype=pl.Float64)


def rolling_extreme(expr: pl.Expr, n: int, *, highest: bool, ages: bool = False) -> pl.Expr:
    """The highest (lowest) of the last n values, or how many bars ago it was (0..n-1, ties: the
    most recent bar); missing if any bar is missing. A kernel: Polars' `rolling_max` took 23 ms
    for 1M bars where TA-Lib's MAX takes 1.1. The values alone come with the sum of the inputs,
    which vouches for them (`extremes.extreme_values`)."""
    if not ages:
        return window("extreme_values", [expr], n, highest, module="extremes", summed=True, into=True)
    return window("rolling_extreme", [expr], n, highest, ages, module="extremes")


def kernel(name: str, inputs: Sequence[pl.Expr], *params: object, fields: Sequence[str] = (),
           module: str = "kernels", gaps: int = 0, probed: bool = False, summed: bool = False,
           apart: Callable[..., np.ndarray] | None = None) -> pl.Expr | dict[str, pl.Expr]:
    """A numba kernel from `library.kernels` (or `library.wilder`) over whole series (skipping
    bars with a missing input); one expression, or one per field for a kernel returning several
    arrays. `gaps`: the results are also missing on that many bars after a missing one (a
    kernel that ends with a window over the recursion, as TRIX's rate of change). `probed`: the
    kernel also returns the sum of its inputs, which says whether one was NaN (`kernels.probe`),
    instead of a pass over each input first; `summed`: that sum takes in the results too, so a
    finite probe also says no result is NaN (`_with_warmup`'s `clean`). `apart`: the result
    when an input is missing, from
    the arrays (NaN where missing) and the parameters, for a kernel fusing recursions that each
    skip their own missing bars (keltner), where dropping every bar with a missing input would
    change them."""
    resolve = _resolver(module, name)

    # `_options`: Polars passes the UDF its return_dtype as a keyword and, when the function
    # refuses it, calls again without: a TypeError raised and caught on every evaluation (10-20
    # us each after a kernel has flushed the caches).
    def run(series: Sequence[pl.Series], **_options: object) -> pl.Series:
        fn, outputs = resolve(), len(fields) or None
        careful = (lambda *args: fn(*args)[0]) if probed else fn
        columns = [_as_float(s) for s in series]
        first = _warmup(columns)
        if apart is not None and first:  # its recursions skip their own missing bars, not all
            first = None
        result, clean = None, False
        if first is not None:  # no missing value after a warm-up: the kernel on views, no copies
            arrays = [(c.slice(first) if first else c).to_numpy() for c in columns]
            if probed:
                result, probe = fn(*arrays, *params)
                result, clean = (None, False) if isnan(probe) else (result, summed and isfinite(probe))
            elif not any(_has_nan(a) for a in arrays):
                result = fn(*arrays, *params)
        if result is None:
            arrays = [_with_nan(c, checked=True) for c in columns]
            result = apart(*arrays, *params) if apart else compressed(careful, arrays, params, outputs, gaps)
            first = 0
        results = (result,) if outputs is None else tuple(result)
        values = [_with_warmup(first, r, clean) for r in results]
        if not fields:
            return values[0]
        return pl.DataFrame(dict(zip(fields, values))).to_struct()

    if not fields:
        return pl.map_batches(list(inputs), run, return_dtype=pl.Float64)
    dtype = pl.Struct({f: pl.Float64 for f in fields})
    batch = share(pl.map_batches(list(inputs), run, return_dtype=dtype))
    return {f: batch.struct.field(f) for f in fields}


def _warmup(columns: Sequence[pl.Series]) -> int | None:
    """How many leading rows have a missing input, if no later row does (else None)."""
    counts = [column.null_count() for column in columns]
    if not any(counts):  # the usual case, in as few calls as possible (see `_as_float`)
        return 0
    first = 0
    for column, count in zip(columns, counts):
        if count:
            first = max(first, int(column.is_not_null().arg_max() or 0))
    if any(column.slice(first).null_count() for column in columns):
        return None
    return first


def _has_nan(values: np.ndarray) -> bool:
    """Whether a value is NaN (`kernels.any_nan`: 0.09 ms for 1M values). Not BLAS's `dot`,
    which was as fast on a quiet machine but starts its own threads: called from a Polars worker
    on a loaded machine they wait for the cores, and an EMA took 7-28 ms instead of 3."""
    return bool(_compiled("tradebot.lang.library.kernels").any_nan(values))


def _with_warmup(first: int, values: np.ndarray, clean: bool = False) -> pl.Series:
    """A kernel's result for the rows after `first`, missing on the first rows and where NaN.
    `clean`: the kernel vouches that no value is NaN after its leading ones (its warm-up), so
    Polars gets the array itself behind a chunk of nulls, with no pass over it. Otherwise a copy
    by `nan_to_null`: a check for NaN instead, and the array itself, measured no faster (any
    pass over the 8 MB the kernel has just written costs about as much as the copy, 0.2-0.3
    ms for 1M values when another call has flushed the caches); the copy also lets the next
    result reuse the same pages."""
    if not clean:
        return _behind_nulls(first, _series(values, nan_to_null=True))
    lead = _leading_nans()(values)
    return _behind_nulls(first + lead, _series(values[lead:]))


def _behind_nulls(count: int, tail: pl.Series) -> pl.Series:
    """`count` missing values, then `tail`: two chunks, no copy."""
    return _join(_nulls(count), tail) if count else tail


def _nulls(count: int) -> pl.Series:
    # From a list below a few thousand (5 µs for 14), kept; above, `repeat` (0.09 ms for any
    # count, where a list of 500,000 took 15 ms).
    if count < 4096:
        return _few_nulls(count)
    return pl.repeat(None, count, dtype=pl.Float64, eager=True)


@lru_cache(maxsize=256)
def _few_nulls(count: int) -> pl.Series:
    """`count` missing values, kept per count (at most 32 kB each): a plan asks for the same
    warm-ups on every evaluation, and a Series is immutable (`concat` shares its buffers)."""
    return pl.Series([None] * count, dtype=pl.Float64)


def _float_series_maker() -> Callable[..., pl.Series]:
    """`pl.Series(values, nan_to_null=...)` for a kernel's result (1-D, float64, contiguous),
    by the constructor `pl.Series` itself ends up calling, without the half-dozen numpy checks
    it makes first: after a kernel has flushed the caches they took 50 us a result, the
    constructor alone 8. Polars' private names, so checked once here against `pl.Series` on a
    sample, and `pl.Series` itself when they are missing or answer otherwise."""
    try:
        from polars.datatypes.constructor import numpy_type_to_constructor

        construct = numpy_type_to_constructor(np.empty(0), np.float64)
        wrap = pl.Series._from_pyseries

        def make(values: np.ndarray, nan_to_null: bool = False) -> pl.Series:
            if values.dtype != np.float64 or not values.flags.c_contiguous or not values.flags.aligned:
                return pl.Series(values, nan_to_null=nan_to_null)
            return wrap(construct("", values, nan_to_null))

        sample = np.array([1.5, np.nan, -0.0, np.inf])[1:]
        for nan_to_null in (False, True):
            if not make(sample, nan_to_null).equals(pl.Series(sample, nan_to_null=nan_to_null), check_names=True):
                return pl.Series
        return make
    except Exception:  # noqa: BLE001 — any change in Polars' internals: the public constructor
        return pl.Series


_series = _float_series_maker()


def _series_joiner() -> Callable[[pl.Series, pl.Series], pl.Series]:
    """`pl.concat([head, tail], rechunk=False)` by the function it ends up calling (30 -> 10 us
    after a kernel has flushed the caches), checked as `_float_series_maker`'s constructor."""
    def public(head: pl.Series, tail: pl.Series) -> pl.Series:
        return pl.concat([head, tail], rechunk=False)
    try:
        from polars.functions import eager

        concat, wrap = eager.plr.concat_series, pl.Series._from_pyseries

        def join(head: pl.Series, tail: pl.Series) -> pl.Series:
            return wrap(concat([head, tail]))

        head, tail = pl.Series([None, 1.5], dtype=pl.Float64), pl.Series([2.5, None])
        joined, expected = join(head, tail), public(head, tail)
        return join if joined.equals(expected) and joined.n_chunks() == expected.n_chunks() else public
    except Exception:  # noqa: BLE001 — any change in Polars' internals: the public function
        return public


_join = _series_joiner()


def _resolver(module: str, name: str) -> Callable[[], Callable[..., object]]:
    """The kernel `name` of `library.<module>`, looked up on the first evaluation (importing
    numba then) and kept: a plan's evaluation pays each Python step it takes once per kernel,
    and after a kernel has streamed megabytes through the caches each costs 10-40 µs, not 1."""
    found: list[Callable[..., object]] = []

    def resolve() -> Callable[..., object]:
        if not found:
            found.append(getattr(_compiled(f"tradebot.lang.library.{module}"), name))
        return found[0]
    return resolve


_leading_nans = _resolver("kernels", "leading_nans")


def _as_float(series: pl.Series) -> pl.Series:
    """The series as float64: itself when it is (a comparison, where `cast` is several Python
    steps even when there is nothing to do)."""
    return series if series.dtype == pl.Float64 else series.cast(pl.Float64)


def _compiled(module: str):
    """A numba kernel module, imported on first use (numba costs 0.2 s to import)."""
    from ...compiled import announce_first_compile

    kernels = importlib.import_module(module)  # importing compiles nothing; the first call does
    announce_first_compile(kernels)
    return kernels


def window(name: str, inputs: Sequence[pl.Expr], *params: object, module: str = "windows",
           summed: bool = False, into: bool = False) -> pl.Expr:
    """A numba kernel from `library.windows` (or `library.sums`, `library.extremes`) over whole
    series. Missing values go in as NaN and the kernel applies the window rule itself (missing
    wherever its window reads one). `summed`: the kernel also returns a sum that is NaN when a result after its
    leading NaN may be: of those results, or of the inputs where only a NaN input makes a NaN
    result (the extremes), so a sum that is not NaN says no later result is NaN (`_with_warmup`'s
    `clean`). `into`: the
    kernel writes its result into an array made here and passed last, by numpy, which asks the
    system for huge pages for large arrays: numba's own array of 1M values came as fresh 4 kB
    pages on every call in a plan (1,921 page faults, ~3 of donchian's 8.7 ms on this VM)."""
    resolve = _resolver(module, name)

    def run(series: Sequence[pl.Series], **_options: object) -> pl.Series:  # options: see `kernel`
        fn = resolve()
        made = [p.make() if isinstance(p, _Deferred) else p for p in params]
        columns = [_as_float(s) for s in series]
        first = _common_warmup(columns)
        if first:  # the kernel on the bars after a shared warm-up: views, no copies
            arrays = [c.slice(first).to_numpy() for c in columns]
        else:
            arrays = [_with_nan(c, checked=True) for c in columns]
        result = fn(*arrays, *made, *([np.empty(len(arrays[0]))] if into else []))
        if not summed:
            return _with_warmup(first, result)
        result, total = result
        return _with_warmup(first, result, clean=not isnan(total))

    return pl.map_batches(list(inputs), run, return_dtype=pl.Float64)


def by_length(constant: Callable[..., pl.Expr], kernel_name: str, *params: object):
    """A window builtin's lowering: `constant(x, n)` for a constant length (the block kernels),
    the `varwindows` kernel when the length is a series."""
    def lower(x: pl.Expr, n: int | pl.Expr) -> pl.Expr:
        if isinstance(n, pl.Expr):
            return window(kernel_name, [x, n], *params, module="varwindows")
        return constant(x, n)
    return lower


def _common_warmup(columns: Sequence[pl.Series]) -> int:
    """How many leading rows every input is missing on, if that is where all their missing
    values are (else 0). A window kernel answers the same on the rows after them as on all rows
    (every window reaching into them is missing either way; a restart after missing bars
    restarts at the same bar), and a nested indicator's input is typically missing only there."""
    counts = {column.null_count() for column in columns}
    if counts == {0}:
        return 0
    if len(counts) != 1 or not (first := counts.pop()) or first == len(columns[0]):
        return 0
    leading = all(not column.slice(first).null_count() for column in columns)
    return first if leading else 0


def _with_nan(series: pl.Series, *, checked: bool = False) -> np.ndarray:
    """The values as float64 with NaN where missing: no copy when nothing is missing, and a
    quarter of `to_numpy`'s time otherwise (0.85 ms against 3.6 for 1M values). `checked`:
    the series is float64 already (`_as_float`)."""
    series = series if checked else _as_float(series)
    return (series.fill_null(np.nan) if series.null_count() else series).to_numpy()


# ------------------------------------------------------------------ both sides


def compressed(fn: Callable[..., object], arrays: Sequence[np.ndarray], params: Sequence[object],
               outputs: int | None = None, gaps: int = 0):
    """fn over the bars where every array has a value, scattered back (NaN elsewhere, and on
    the `gaps` bars after each bar without a value)."""
    keep = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays:
        keep &= ~np.isnan(a)
    result = fn(*(_read_only(np.ascontiguousarray(a[keep], dtype=np.float64)) for a in arrays), *params)
    results = (result,) if outputs is None else tuple(result)
    shown = keep.copy()  # the bars with a result
    for bars in range(1, gaps + 1):
        shown[bars:] &= keep[:-bars]

    def scatter(values) -> np.ndarray:
        out = np.full(len(keep), np.nan)
        out[keep] = values
        out[~shown] = np.nan
        return out

    scattered = [scatter(r) for r in results]
    return scattered[0] if outputs is None else tuple(scattered)


def _read_only(values: np.ndarray) -> np.ndarray:
    """Read-only, as the Polars views the kernels usually get: numba compiles a kernel once per
    argument type, and a writable array is another type (a second compilation, seconds)."""
    values.flags.writeable = False
    return values
