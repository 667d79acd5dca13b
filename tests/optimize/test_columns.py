"""The indicator columns a sweep keeps between batches (optimize/columns.py): what a later batch
reads instead of computing, and numbers equal to batches that compute everything themselves."""
from __future__ import annotations

import numpy as np
import polars as pl

from tradebot.lang import ir
from tradebot.optimize.batch import Evaluator, EvaluatorSpec, Objective, Window
from tradebot.optimize.batched import metric_rows
from tradebot.optimize.columns import ColumnCache
from tradebot.pipeline import engine_nodes, load_bars

from .conftest import SMA

SCRIPT = SMA + """
band = bbands(close, slow, 2)
exit long when close > band.upper
lenient = (close + 1) @ 4h
exit short when close < sma(lenient, 3)
"""


def _evaluator(small_csv) -> Evaluator:
    return Evaluator(EvaluatorSpec(SCRIPT, "cols.tbs", load_bars(small_csv), Objective("sharpe")))


def _programs(evaluator: Evaluator, pairs):
    return [evaluator.check({"fast": f, "slow": s}) for f, s in pairs]


def _roots(programs):
    return [node for checked in programs for node in engine_nodes(checked).values()]


def test_later_batches_read_what_earlier_ones_computed_and_get_the_same_numbers(small_csv):
    evaluator = _evaluator(small_csv)
    bars, window = evaluator.bars, Window(50, evaluator.bars.height)
    market = evaluator.market(window)
    batches = [[(5, 20), (10, 20)], [(5, 30), (10, 30)], [(10, 20), (5, 30), (15, 40)]]
    cache = ColumnCache(2**30)
    for pairs in batches:
        programs = _programs(evaluator, pairs)
        held_before = set(cache.columns)
        with_cache = metric_rows(programs, bars, market, start=window.start, plan_size=8, cache=cache)
        alone = metric_rows(programs, bars, market, start=window.start, plan_size=8)
        assert with_cache.tobytes() == alone.tobytes()  # bit for bit, NaN included
        assert set(cache.columns) >= held_before
    # The last batch's moving averages and bands were all computed before: 20, 30 and 40 bars for
    # `slow`, 5, 10 and 15 for `fast` (15 only in the last batch, computed there).
    kept = {(n.name, n.args[1].value) for n in cache.columns if isinstance(n, ir.Call) and n.name == "sma"
            and n.args[0] == engine_nodes(_programs(evaluator, [(5, 20)])[0])["enter_long"].args[0].args[0]}
    assert kept == {("sma", 5), ("sma", 10), ("sma", 15), ("sma", 20), ("sma", 30), ("sma", 40)}


def test_what_is_computed_on_other_bars_is_not_kept(small_csv):
    evaluator = _evaluator(small_csv)
    cache = ColumnCache(2**30)
    held, wanted = cache.plan_inputs(_roots(_programs(evaluator, [(5, 20)])), evaluator.bars.height)
    assert not held
    names = sorted(n.name if isinstance(n, ir.Call) else f"{n.target.name}.{n.name}" for n in wanted.values())
    # sma(close, 5), sma(close, 20), the band's upper field, and the 3-bar average of the `@ 4h`
    # series (on the script's bars); not the `@ 4h` series itself, whose plan runs on 4h bars
    assert names == ["bbands.upper", "sma", "sma", "sma"]
    assert not any(isinstance(node, ir.Resample) for node in wanted.values())


def test_a_new_window_end_drops_every_column_and_the_budget_drops_the_least_recent(small_csv):
    evaluator = _evaluator(small_csv)
    bars = evaluator.bars
    roots = _roots(_programs(evaluator, [(5, 20)]))
    cache = ColumnCache(2**30)
    _, wanted = cache.plan_inputs(roots, bars.height)
    frame = pl.DataFrame({name: np.arange(bars.height, dtype=np.float64) for name in wanted})
    cache.keep(frame, wanted)
    assert len(cache.columns) == len(wanted) == 4
    held, _ = cache.plan_inputs(roots, bars.height)
    assert len(held) == 4 and len(set(held.values())) == 4
    held, wanted = cache.plan_inputs(roots, bars.height - 1)  # another window
    assert not held and len(wanted) == 4 and not cache.columns

    one_column = frame[frame.columns[0]].estimated_size()
    small = ColumnCache(3 * one_column)
    _, wanted = small.plan_inputs(roots, bars.height)
    small.keep(frame.rename(dict(zip(frame.columns, wanted))), wanted)
    first, *rest = wanted.values()
    assert list(small.columns) == rest and small.size <= small.budget  # the first one left

    nothing = ColumnCache(0)
    held, wanted = nothing.plan_inputs(roots, bars.height)
    assert not held and not wanted
