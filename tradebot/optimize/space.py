"""The search space of a script: the values each searchable param may take, the `where`
constraints between them, and the candidates a grid or a random search tries.

A param with a range or choices is a dimension; a param without one keeps its value. A dimension
is discrete (choices, or a range with a step; whole-number ranges step by 1) or continuous (a
fractional range without a step: random and Bayesian search only).

Every grid point has a stable index, the mixed-radix number of its value positions (the first
declared param varies slowest). Constraints are evaluated on whole numpy columns of candidates, so a
grid is pruned before anything runs, at millions of points per second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Mapping

import numpy as np

from ..errors import UsageError
from ..lang import ast
from ..lang.checker import CheckedProgram
from ..lang.diagnostics import Diagnostic, ScriptDiagnostics
from ..lang.operators import OPERATORS
from ..lang.params import ParamInfo

CHUNK = 1 << 20  # grid points decoded and pruned at a time
MAX_GRID = 20_000_000  # beyond this a grid is refused: random or Bayesian search fits better
SAMPLE_TRIES = 50  # random search: draws per wanted candidate before giving up on a tight space


@dataclass(frozen=True)
class Dimension:
    """One searchable param: its discrete values in order, or a continuous [low, high]."""

    name: str
    values: tuple[float, ...] | None
    low: float
    high: float
    is_int: bool
    info: ParamInfo

    @property
    def size(self) -> int | None:
        return None if self.values is None else len(self.values)


@dataclass(frozen=True)
class Candidates:
    """A block of parameter combinations: their positions in the sweep, their grid indices
    (-1 off the grid) and one numpy column per dimension."""

    positions: np.ndarray
    indices: np.ndarray
    columns: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    def rows(self) -> list[dict[str, float]]:
        """Each combination as {param: value}, ints as Python ints (what `--set` would give)."""
        names = list(self.columns)
        return [{n: _plain(self.columns[n][i]) for n in names} for i in range(len(self))]

    def take(self, start: int, stop: int) -> Candidates:
        return self.select(slice(start, stop))

    def select(self, which: slice | np.ndarray) -> Candidates:
        """The candidates at a slice, a boolean mask or an index array."""
        return Candidates(self.positions[which], self.indices[which],
                          {n: c[which] for n, c in self.columns.items()})


def _plain(value: np.generic) -> float:
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


class Space:
    """The params a script searches, with its constraints (see the module docstring)."""

    def __init__(self, checked: CheckedProgram) -> None:
        self.checked = checked
        self.dims = tuple(dimension(p) for p in checked.params if p.low is not None or p.choices is not None)
        self.fixed = {p.name: p.value for p in checked.params if p.low is None and p.choices is None}
        self.where = checked.optimize.where if checked.optimize else ()

    # ------------------------------------------------------------ sizes
    @property
    def is_discrete(self) -> bool:
        return all(d.values is not None for d in self.dims)

    @property
    def grid_size(self) -> int:
        """Combinations before constraints (the product of the dimensions' sizes)."""
        return math.prod(d.size or 0 for d in self.dims)

    def require_grid(self) -> None:
        """A grid needs every dimension discrete; say which param lacks a step, and where."""
        continuous = [d for d in self.dims if d.values is None]
        if continuous:
            diagnostics = [Diagnostic(f"`{d.name}` has a fractional range without a step, so a grid "
                                      "cannot list its values", d.info.span,
                                      "add a step (`in 0.5..2 step 0.25`) or search `by random` / `by bayes`")
                           for d in continuous]
            raise ScriptDiagnostics(diagnostics, self.checked.source, self.checked.filename)
        if self.grid_size > MAX_GRID:
            raise UsageError(f"the grid has {self.grid_size:,} combinations (more than {MAX_GRID:,}); "
                             "search it with --method random or --method bayes")

    # ------------------------------------------------------------ grid
    def decode(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Grid indices → one value column per dimension (mixed radix, first param slowest)."""
        columns: dict[str, np.ndarray] = {}
        rest = np.asarray(indices, dtype=np.int64)
        for dim in reversed(self.dims):
            size = dim.size or 1
            columns[dim.name] = np.asarray(dim.values, dtype=np.float64)[rest % size]
            rest = rest // size
        return {d.name: columns[d.name] for d in self.dims}

    def feasible(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Which combinations satisfy every `where` condition."""
        n = len(next(iter(columns.values()))) if columns else 1
        keep = np.ones(n, dtype=np.bool_)
        env = {**{k: np.full(n, v) for k, v in self.fixed.items()}, **columns}
        with np.errstate(all="ignore"):
            for cond in self.where:
                keep &= np.broadcast_to(np.asarray(evaluate(cond, env), dtype=np.bool_), (n,))
        return keep

    def grid_indices(self) -> np.ndarray:
        """The indices of every feasible grid point, in order (pruned chunk by chunk)."""
        self.require_grid()
        kept = []
        for start in range(0, self.grid_size, CHUNK):
            indices = np.arange(start, min(start + CHUNK, self.grid_size), dtype=np.int64)
            kept.append(indices[self.feasible(self.decode(indices))])
        return np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)

    def grid(self) -> Candidates:
        indices = self.grid_indices()
        return Candidates(np.arange(len(indices), dtype=np.int64), indices, self.decode(indices))

    # ------------------------------------------------------------ random
    def sample(self, count: int, *, seed: int) -> Candidates:
        """`count` distinct feasible combinations drawn uniformly (fewer if the space is smaller).

        Discrete spaces are sampled without replacement on the grid; a continuous dimension is
        drawn uniformly from its range (then there is no grid index).
        """
        rng = np.random.default_rng(seed)
        if self.is_discrete and self.grid_size <= MAX_GRID:
            feasible = self.grid_indices()
            chosen = rng.choice(feasible, size=min(count, len(feasible)), replace=False)
            return Candidates(np.arange(len(chosen), dtype=np.int64), chosen, self.decode(chosen))
        return self._sample_draws(count, rng)

    def _sample_draws(self, count: int, rng: np.random.Generator) -> Candidates:
        """Draws of `count` at a time, each distinct feasible one kept in the order drawn. Whole
        arrays, not a Python object per draw: 100,000 draws held ~100 MB of small objects."""
        picked = np.empty((0, len(self.dims)))
        for _ in range(SAMPLE_TRIES):
            draw = {d.name: _draw(d, rng, count) for d in self.dims}
            ok = np.flatnonzero(self.feasible(draw))
            rows = np.column_stack([draw[d.name][ok] for d in self.dims]) if len(self.dims) else np.empty((len(ok), 0))
            picked = np.concatenate([picked, _new_rows(picked, rows)[:count - len(picked)]])
            if len(picked) >= count:
                break
        columns = {d.name: np.ascontiguousarray(picked[:, j]) for j, d in enumerate(self.dims)}
        n = len(picked)
        indices = self.indices_of(columns) if self.is_discrete else np.full(n, -1, dtype=np.int64)
        return Candidates(np.arange(n, dtype=np.int64), indices, columns)

    def indices_of(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Grid indices of discrete values (the inverse of `decode`)."""
        index = np.zeros(len(next(iter(columns.values()))), dtype=np.int64)
        for dim in self.dims:
            index = index * (dim.size or 1) + np.searchsorted(np.asarray(dim.values), columns[dim.name])
        return index

    def neighbours(self, index: int) -> Iterator[int]:
        """Grid indices one step away from `index` along one dimension (for parameter stability)."""
        radix = [d.size or 1 for d in self.dims]
        weights = [math.prod(radix[i + 1:]) for i in range(len(radix))]
        for weight, size in zip(weights, radix):
            position = (index // weight) % size
            for step in (-1, 1):
                if 0 <= position + step < size:
                    yield index + step * weight


def _new_rows(seen: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows not in `seen`, each at its first occurrence, in their order."""
    if len(rows) == 0:
        return rows
    _, first = np.unique(np.concatenate([seen, rows]), axis=0, return_index=True)
    first = np.sort(first)
    return np.concatenate([seen, rows])[first[first >= len(seen)]]


def _draw(dim: Dimension, rng: np.random.Generator, count: int) -> np.ndarray:
    if dim.values is not None:
        return np.asarray(dim.values, dtype=np.float64)[rng.integers(0, len(dim.values), count)]
    return rng.uniform(dim.low, dim.high, count)


def dimension(info: ParamInfo) -> Dimension:
    """The values a param may take, as its declaration says."""
    if info.choices is not None:
        values = tuple(sorted(set(info.choices)))
        return Dimension(info.name, values, values[0], values[-1], info.is_int, info)
    low, high = float(info.low), float(info.high)  # type: ignore[arg-type]
    step = info.step if info.step is not None else (1.0 if info.is_int else None)
    if step is None:
        return Dimension(info.name, None, low, high, False, info)
    count = int(math.floor((high - low) / step + 1e-9)) + 1
    # Rounded to 12 significant digits: 0.1 + 2 * 0.1 is written 0.3, as a user would type it.
    values = tuple(float(f"{low + k * step:.12g}") for k in range(count))
    return Dimension(info.name, values, low, values[-1], info.is_int, info)


# ---------------------------------------------------------------- constraints
def evaluate(node: ast.Expr, env: Mapping[str, np.ndarray]) -> np.ndarray | float | bool:
    """A checked `where` expression on columns of param values (the checker allowed only these)."""
    if isinstance(node, (ast.Number, ast.Percent, ast.Bool)):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.Unary):
        return OPERATORS[node.op].fold(evaluate(node.operand, env))  # type: ignore[misc]
    if isinstance(node, ast.Binary):  # each operator's constant folding, on arrays of candidates
        return OPERATORS[node.op].fold(evaluate(node.left, env), evaluate(node.right, env))  # type: ignore[misc]
    if isinstance(node, ast.IfElse):
        return np.where(evaluate(node.cond, env), evaluate(node.then, env), evaluate(node.otherwise, env))
    raise TypeError(f"not a constraint expression: {type(node).__name__}")
