"""Sweeps of a portfolio script: every trial is one account over the universe, with the numbers
of a plain `tradebot run` of the same params, by grid, random, bayes, walk-forward and --jobs 2."""
from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path

import polars as pl
import pytest

from tradebot.cli import main
from tradebot.config import Config
from tradebot.optimize.batch import EvaluatorSpec, Objective, Window, params_of
from tradebot.optimize.command import fingerprint
from tradebot.optimize.parallel import Workers
from tradebot.optimize.portfolio import PortfolioEvaluator, portfolio_evaluator
from tradebot.optimize.search import SearchOptions, run_search
from tradebot.optimize.space import Space
from tradebot.pipeline import load_strategy
from tradebot.portfolio_pipeline import backtest_portfolio, universe_panel, with_other_symbols
from tradebot.runtime.metrics import PORTFOLIO_METRICS

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "data" / "generated"
BARS = 700

ROTATION = """strategy "rotation"
universe "data/*_1h.csv"
max_positions 2
param momentum = 20 in 10..30 step 10
param trend = 60 in 40..80 step 20
rank by roc(close, momentum)
size 45% of equity
fee 0.05%
enter long when roc(close, momentum) > 0 and close > sma(close, trend)
exit long when close < sma(close, trend)
"""


@pytest.fixture(scope="module")
def universe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three generated symbols, the first BARS bars each (GENC has gaps: a missing bar stays one)."""
    folder = tmp_path_factory.mktemp("universe")
    (folder / "data").mkdir()
    for symbol in ("GENA", "GENB", "GENC"):
        pl.read_csv(GENERATED / f"{symbol}_generated_1h.csv").head(BARS).write_csv(
            folder / "data" / f"{symbol}_1h.csv")
    return folder


def script_in(folder: Path, optimize: str, name: str = "rotation.tbs") -> Path:
    path = folder / name
    path.write_text(ROTATION + optimize + "\n", encoding="utf-8")
    return path


def evaluator_for(path: Path) -> PortfolioEvaluator:
    spec = EvaluatorSpec(path.read_text(), str(path), pl.DataFrame(), Objective("sharpe"))
    _, _, evaluator = portfolio_evaluator(load_strategy(path), argparse.Namespace(data=None), Config(), spec)
    return evaluator


# A market filter read from another symbol of the universe with `of`.
LEADER = ("enter long when roc(close, momentum) > 0 and close > sma(close, trend)",
          "enter long when roc(close, momentum) > 0 and close of GENA > sma(close, trend) of GENA")


# Position state: each symbol's chandelier hangs from its own highest high (GENC's gaps included),
# `momentum` also a constant of the position program.
CHANDELIER = ("exit long when close < sma(close, trend)",
              "exit long when close < sma(close, trend) or close < highest_since_entry(high) - momentum / 10 * atr(14)")


@pytest.mark.parametrize("change", [None, LEADER, CHANDELIER], ids=["plain", "leader", "chandelier"])
def test_every_trial_equals_a_plain_run_with_its_params(universe, change):
    path = script_in(universe, "optimize maximize sharpe")
    if change:
        path.write_text(path.read_text().replace(*change))
    evaluator = evaluator_for(path)
    trials = evaluator.run(Space(evaluator.base).grid(), Window(0, evaluator.bars.height))
    assert trials.height == 9 and (trials["status"] == "ok").all()
    assert {m.key for m in PORTFOLIO_METRICS} <= set(trials.columns)
    for row in trials.iter_rows(named=True):
        params = params_of(row)
        strategy = load_strategy(path, overrides=params)
        panel = universe_panel(strategy, Config())
        plain = backtest_portfolio(with_other_symbols(strategy, Config(), panel=panel), panel).metrics["all"]
        for key, value in plain.items():
            assert row[key] == value or (math.isnan(value) and math.isnan(row[key])), (params, key)
    assert trials["trades"].n_unique() > 1  # the params matter


def test_a_window_sees_the_bars_before_it_as_warm_up_and_nothing_after(universe):
    """Trading rows [300, 500): the same as a run on the first 500 rows whose signals before 300
    are dropped; the equity covers exactly the window's timestamps."""
    evaluator = evaluator_for(script_in(universe, "optimize maximize sharpe"))
    run = evaluator.backtest({"momentum": 10, "trend": 40}, Window(300, 500))
    assert run.equity["timestamp"].to_list() == evaluator.bars["timestamp"][300:500].to_list()
    assert run.trades.height and run.trades["entry_bar"].min() >= 0
    later = evaluator.backtest({"momentum": 10, "trend": 40}, Window(300, 600))
    # What happens in [300, 500) cannot depend on the bars after 500 (no lookahead): the trades
    # closed before the shorter window's last bar are the same.
    closed = run.trades.filter(pl.col("exit_reason") != "end_of_data")
    assert closed.equals(later.trades.filter(pl.col("exit_bar") < 199).head(closed.height))


@pytest.mark.parametrize("method", ["random", "bayes"])
def test_random_and_bayes_search_the_universe(universe, method):
    evaluator = evaluator_for(script_in(universe, "optimize maximize sharpe"))
    options = SearchOptions(method, 5, seed=3)
    with Workers(evaluator, jobs=1) as workers:
        found = run_search(evaluator, Space(evaluator.base), options, Window(0, evaluator.bars.height),
                           workers=workers)
    assert found.trials.height == 5 and not found.interrupted
    assert found.best(evaluator.objective) is not None


def test_two_jobs_give_the_trials_of_one(universe):
    evaluator = evaluator_for(script_in(universe, "optimize maximize sharpe"))
    candidates = Space(evaluator.base).grid()
    window = Window(0, evaluator.bars.height)
    with Workers(evaluator, jobs=2) as workers:
        assert workers.pool is not None
        two = workers.evaluate(candidates, window)
    assert two.equals(evaluator.run(candidates, window))


def test_cli_walk_forward_by_a_portfolio_metric_with_files(universe, capsys):
    path = script_in(universe, "optimize minimize turnover by grid min_trades 3 validate walk_forward 2 folds")
    out = universe / "out"
    assert main(["run", str(path), "--optimize", "--out", str(out)]) == 0
    report = capsys.readouterr().out
    assert "minimize turnover by grid" in report and "Validation (walk-forward, 2 folds" in report
    trials = pl.read_csv(out / "trials.csv")
    assert {"turnover", "avg_positions", "max_positions_held", "avg_correlation"} <= set(trials.columns)
    # The best of the last fold's search (its train window): the lowest turnover ranked.
    best = json.loads((out / "best.json").read_text())
    assert best["metrics"]["turnover"] == trials.filter(pl.col("status") == "ok")["turnover"].min()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["path"].endswith("*_1h.csv")
    files = sorted((universe / "data").glob("*_1h.csv"))
    assert manifest["data"]["files"] == {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_what_cannot_apply_is_refused_clearly(universe, tmp_path, capsys):
    path = script_in(universe, "optimize maximize sharpe")
    assert main(["run", str(path), "--optimize", "--data", str(REPO / "data/EURUSD_1h.csv")]) == 2
    assert "--data is for one symbol" in capsys.readouterr().err
    single = tmp_path / "one.tbs"
    single.write_text('param n = 10 in 5..15 step 5\nenter long when close > sma(close, n)\n'
                      "optimize maximize turnover\n")
    assert main(["run", str(single), "--optimize"]) == 2
    err = capsys.readouterr().err
    assert "`turnover` is a portfolio metric" in err and "^" in err and "hint:" in err


def test_a_shared_study_fingerprints_every_file_of_the_universe(tmp_path):
    files = [tmp_path / "A_1h.csv", tmp_path / "B_1h.csv"]
    for path in files:
        path.write_text("timestamp,open,high,low,close\n")
    before = fingerprint("script", files, method="grid", trials=None, seed=0)
    files[1].write_text("timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,1,1,1\n")
    assert fingerprint("script", files, method="grid", trials=None, seed=0) != before
    assert fingerprint("script", files[0], method="grid", trials=None, seed=0) == \
        fingerprint("script", files[:1], method="grid", trials=None, seed=0)


def test_cli_jobs_2_writes_the_trials_of_jobs_1(universe, monkeypatch, capsys):
    """Two worker processes (the automatic choice off: the sweep is too short to pay for them)."""
    path = script_in(universe, "optimize maximize sharpe by random trials 6 seed 2")
    monkeypatch.setenv("TRADEBOT_OPTIMIZE_AUTO_JOBS", "false")
    frames = []
    for jobs in ("1", "2"):
        out = universe / f"jobs{jobs}"
        assert main(["run", str(path), "--optimize", "--jobs", jobs, "--out", str(out)]) == 0
        assert f"{jobs} job" in capsys.readouterr().out
        frames.append(pl.read_csv(out / "trials.csv"))
    assert frames[0].height == 6 and frames[0].equals(frames[1])
