"""The search space against hand-enumerated truth: grids, constraints, samples, neighbours."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tradebot.errors import UsageError
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.optimize import space as space_module
from tradebot.optimize.space import Space
from tradebot.pipeline import compile_source

BODY = """param a = 2 in 1..4
param b = 0.5 in 0.1..0.5 step 0.1
param c = 20 in [30, 10, 20]
param fixed = 7
enter long when close > open * (1 + b / 1000) and a + c > fixed
"""


def make_space(optimize: str, body: str = BODY) -> Space:
    return Space(compile_source(body + optimize + "\n", "s.tbs").checked)


def product(where=lambda a, b, c: True) -> list[tuple[float, float, float]]:
    """The grid written out by hand: a slowest, then b, then c (choices sorted)."""
    return [(a, b, c) for a, b, c in itertools.product([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4, 0.5], [10, 20, 30])
            if where(a, b, c)]


def as_tuples(candidates) -> list[tuple[float, float, float]]:
    return [(r["a"], r["b"], r["c"]) for r in candidates.rows()]


def test_the_grid_is_the_product_of_the_declared_values_in_order() -> None:
    space = make_space("optimize maximize sharpe")
    assert space.grid_size == 60 and space.is_discrete
    grid = space.grid()
    assert as_tuples(grid) == product()
    assert list(grid.indices) == list(range(60)) and "fixed" not in grid.columns


def test_constraints_prune_exactly_the_combinations_they_exclude() -> None:
    space = make_space("optimize maximize sharpe where a * 10 < c where b >= 0.3 or a == fixed - 3 and not c == 30")
    expected = product(lambda a, b, c: a * 10 < c and (b >= 0.3 or (a == 4 and not c == 30)))
    assert as_tuples(space.grid()) == expected
    every = space.grid_indices()
    assert np.array_equal(space.indices_of(space.decode(every)), every)


def test_decimal_steps_give_the_values_a_user_would_type() -> None:
    values = make_space("optimize maximize sharpe").dims[1].values
    assert values == (0.1, 0.2, 0.3, 0.4, 0.5)
    checked = compile_source(BODY, "s.tbs", overrides={"b": values[2]}).checked
    assert checked.param_values["b"] == 0.3


def test_a_sample_is_distinct_feasible_seeded_and_capped_by_the_space() -> None:
    space = make_space("optimize maximize sharpe by random trials 10 where a < 3")
    first, again, other = space.sample(10, seed=1), space.sample(10, seed=1), space.sample(10, seed=2)
    drawn = as_tuples(first)
    assert len(set(drawn)) == 10 and set(drawn) <= set(product(lambda a, b, c: a < 3))
    assert drawn == as_tuples(again) and drawn != as_tuples(other)
    assert len(space.sample(1000, seed=1)) == 30  # every feasible point, once


def test_continuous_params_are_sampled_but_refused_by_a_grid() -> None:
    body = "param w = 0.5 in 0.25..0.75\nparam n = 3 in 1..5\nenter long when close > open * (1 + w / 100)\n"
    space = make_space("optimize maximize sharpe by random trials 20 where w * n < 2", body)
    sample = space.sample(20, seed=0)
    assert len(sample) == 20 and np.all(sample.indices == -1)
    w, n = sample.columns["w"], sample.columns["n"]
    assert np.all((0.25 <= w) & (w <= 0.75) & (w * n < 2)) and set(n) <= {1, 2, 3, 4, 5}
    with pytest.raises(ScriptDiagnostics, match="`w` has a fractional range without a step") as info:
        space.grid()
    assert info.value.diagnostics[0].span.line == 1


def test_a_grid_too_large_to_list_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(space_module, "MAX_GRID", 59)
    with pytest.raises(UsageError, match="60 combinations"):
        make_space("optimize maximize sharpe").grid()


def test_neighbours_are_one_step_along_one_param() -> None:
    space = make_space("optimize maximize sharpe")
    corner = space.indices_of({"a": np.array([1.0]), "b": np.array([0.1]), "c": np.array([10.0])})[0]
    middle = space.indices_of({"a": np.array([2.0]), "b": np.array([0.3]), "c": np.array([20.0])})[0]

    def points(indices):
        return sorted(tuple(v[0] for v in space.decode(np.array([i])).values()) for i in indices)

    assert points(space.neighbours(corner)) == [(1, 0.1, 20), (1, 0.2, 10), (2, 0.1, 10)]
    assert points(space.neighbours(middle)) == [(1, 0.3, 20), (2, 0.2, 20), (2, 0.3, 10), (2, 0.3, 30),
                                                (2, 0.4, 20), (3, 0.3, 20)]
