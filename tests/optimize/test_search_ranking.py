"""Ranking: repeated draws of the same param set are one backtest and rank once."""
from __future__ import annotations

import polars as pl

from tradebot.optimize.batch import Objective
from tradebot.optimize.search import SearchResult


def test_repeated_param_sets_rank_once_as_their_earliest_trial() -> None:
    trials = pl.DataFrame({
        "trial": [0, 1, 2, 3, 4],
        "param.fast": [5, 10, 5, 15, 10],
        "objective": [1.5, 2.0, 1.5, 0.5, 2.0],
        "status": ["ok", "ok", "ok", "ok", "ok"],
    })
    ranked = SearchResult(trials, interrupted=False, elapsed=0.0).ranked(Objective("sharpe", True, 0))
    assert ranked["param.fast"].to_list() == [10, 5, 15]
    assert ranked["trial"].to_list() == [1, 0, 3]
