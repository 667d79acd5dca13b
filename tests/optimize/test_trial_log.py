"""A big sweep streams its trials to disk and keeps only the best in memory: its ranking, counts,
deflated Sharpe inputs and trials.csv are those of the same sweep kept whole in memory."""
from __future__ import annotations

import polars as pl

from tradebot.optimize import trial_log
from tradebot.optimize.batch import Evaluator, EvaluatorSpec, Objective, Window
from tradebot.optimize.parallel import Workers
from tradebot.optimize.search import SearchOptions, run_search
from tradebot.optimize.space import Space
from tradebot.pipeline import load_bars

from .conftest import RSI, write_script


def sweep(evaluator: Evaluator):
    with Workers(evaluator, jobs=1) as workers:
        return run_search(evaluator, Space(evaluator.base), SearchOptions("random", 40, seed=3),
                          Window(0, evaluator.bars.height), workers=workers)


def test_a_spilled_sweep_ranks_counts_and_writes_like_one_kept_in_memory(small_csv, tmp_path, monkeypatch) -> None:
    script = write_script(tmp_path, RSI, "optimize maximize sharpe")
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv),
                                        Objective("sharpe"), memory_mb=1))  # many small batches
    whole = sweep(evaluator)
    monkeypatch.setattr(trial_log, "IN_MEMORY_ROWS", 10)
    monkeypatch.setattr(trial_log, "KEPT", 5)
    spilled = sweep(evaluator)
    assert not whole.log.spilled and spilled.log.spilled
    assert spilled.trials.height == 5 and spilled.count == whole.count == whole.trials.height > 10
    objective = evaluator.objective
    assert spilled.ranked(objective).equals(whole.ranked(objective).head(5))
    assert spilled.evaluated("sharpe").sort("sharpe").equals(whole.evaluated("sharpe").sort("sharpe"))
    whole.write_csv(tmp_path / "whole.csv")
    spilled.write_csv(tmp_path / "spilled.csv")
    assert pl.read_csv(tmp_path / "spilled.csv").equals(pl.read_csv(tmp_path / "whole.csv"))


def _batch(trials: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"trial": trials, "status": ["ok"] * len(trials), "param.n": [t % 7 for t in trials],
                         "objective": [float(t * 37 % 11) for t in trials]})


def test_spilled_trials_stream_out_by_position_without_a_sort(monkeypatch) -> None:
    # Batches finish out of order (workers), rows within a batch too: the files, each sorted and
    # put in order of their first trial, are every trial by position; no sort of them all.
    monkeypatch.setattr(trial_log, "IN_MEMORY_ROWS", 6)
    log = trial_log.TrialLog(Objective("sharpe"))
    runs = [[8, 6, 7], [0, 2, 1], [12, 13, 14], [3, 5, 4], [9, 11, 10]]
    for trials in runs:
        log.add(_batch(trials))
    assert log.spilled
    plan = log.by_trial()
    assert "SORT" not in plan.explain()
    assert plan.collect()["trial"].to_list() == list(range(15))


def test_interleaved_batches_are_still_written_by_position(monkeypatch) -> None:
    monkeypatch.setattr(trial_log, "IN_MEMORY_ROWS", 2)
    log = trial_log.TrialLog(Objective("sharpe"))
    for trials in ([0, 4, 2], [1, 3], [5, 7, 6]):
        log.add(_batch(trials))
    plan = log.by_trial()
    assert "SORT" in plan.explain()  # the fallback
    assert plan.collect()["trial"].to_list() == list(range(8))
