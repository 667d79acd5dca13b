"""Sweeps against plain runs: the same combination gives the same metrics exactly, any --jobs gives
the same trials, and the best trial is the best of the plain runs."""
from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from tradebot.cli import main
from tradebot.optimize.batch import Evaluator, EvaluatorSpec, Objective, Window, params_of
from tradebot.optimize.batched import group_by_inputs
from tradebot.optimize.parallel import Workers
from tradebot.optimize.search import SearchOptions, run_search
from tradebot.optimize.space import Space
from tradebot import pipeline
from tradebot.lang.stateful.position import compile_position
from tradebot.pipeline import engine_inputs, load_bars
from tradebot.runtime.report import json_safe
from tradebot.runtime.summary import ALL_KEYS

from .conftest import RSI, SMA, write_script

OPTIMIZE = "optimize maximize sharpe where fast < slow"


@pytest.fixture(scope="module")
def sma_sweep(small_csv, tmp_path_factory):
    script = write_script(tmp_path_factory.mktemp("sma"), SMA, OPTIMIZE)
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv),
                                        Objective("sharpe"), memory_mb=1))  # tiny budget: many batches
    space = Space(evaluator.base)
    with Workers(evaluator, jobs=1) as workers:
        result = run_search(evaluator, space, SearchOptions("grid", None), Window(0, evaluator.bars.height),
                            workers=workers)
    return script, evaluator, space, result


def plain_run(script, data, params) -> dict:
    """`tradebot run SCRIPT --set ... --json`, in process; its metrics."""
    sets = [arg for k, v in params.items() for arg in ("--set", f"{k}={v}")]
    from io import StringIO
    from contextlib import redirect_stdout

    out = StringIO()
    with redirect_stdout(out):
        assert main(["run", str(script), "--data", str(data), *sets, "--json"]) == 0
    return json.loads(out.getvalue())["metrics"]["all"]


def test_sweep_metrics_equal_a_plain_run_exactly(sma_sweep, small_csv) -> None:
    script, evaluator, _, result = sma_sweep
    assert evaluator.batch_size() < result.trials.height  # several plans were involved
    rng = np.random.default_rng(5)
    for position in rng.choice(result.trials.height, size=6, replace=False):
        row = result.trials.row(int(position), named=True)
        plain = plain_run(script, small_csv, params_of(row))
        assert plain == {k: json_safe(row[k]) for k in plain}, params_of(row)


def test_the_grid_covers_every_feasible_pair_once_and_the_best_is_the_maximum(sma_sweep) -> None:
    _, evaluator, _, result = sma_sweep
    pairs = {(f, s) for f in (5, 10, 15, 20, 25) for s in (20, 30, 40, 50, 60) if f < s}
    got = list(zip(result.trials["param.fast"].to_list(), result.trials["param.slow"].to_list()))
    assert len(got) == len(pairs) and set(got) == pairs
    best = result.best(evaluator.objective)
    assert best["sharpe"] == max(result.trials["sharpe"].to_list())


def test_min_trades_keeps_thin_results_out_of_the_ranking(sma_sweep) -> None:
    _, _, _, result = sma_sweep
    trades = sorted(result.trials["trades"].to_list())
    threshold = trades[len(trades) // 2]
    objective = Objective("sharpe", True, threshold)
    for row in result.trials.iter_rows(named=True):
        value, status = objective.score(row)
        assert (status == "ok") == (row["trades"] >= threshold)
        assert value == (row["sharpe"] if status == "ok" else None)


@pytest.mark.parametrize("method, trials", [("grid", None), ("random", 12), ("bayes", 12)])
def test_results_do_not_depend_on_the_number_of_jobs(small_csv, tmp_path, method, trials) -> None:
    script = write_script(tmp_path, RSI, "optimize maximize sharpe where lower + 30 < upper")
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    space = Space(evaluator.base)
    frames = []
    for jobs in (1, 2):
        with Workers(evaluator, jobs=jobs) as workers:
            found = run_search(evaluator, space, SearchOptions(method, trials, seed=11, jobs=jobs),
                               Window(0, evaluator.bars.height), workers=workers)
        frames.append(found.trials)
    assert frames[0].height == (trials or 24)  # grid: 4 lengths x the 6 pairs with lower + 30 < upper
    assert frames[0].equals(frames[1])
    if method == "bayes":  # seeded: a second run in-process asks the same trials
        with Workers(evaluator, jobs=1) as workers:
            again = run_search(evaluator, space, SearchOptions(method, trials, seed=11),
                               Window(0, evaluator.bars.height), workers=workers)
        assert again.trials.equals(frames[0])


def test_a_window_backtests_only_its_bars_with_earlier_bars_as_warm_up(small_csv, tmp_path) -> None:
    """A rule that needs no history: the windowed result equals a plain run on the sliced data."""
    body = "fee 0.05%\nparam k = 1 in 1..3\nenter long when close > open * (1 + k / 10000)\n" \
           "exit long when close < open\n"
    script = write_script(tmp_path, body, "optimize maximize sharpe")
    bars = load_bars(small_csv)
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), bars, Objective("sharpe")))
    window = Window(400, 1100)
    windowed = evaluator.backtest({"k": 2}, window)
    sliced = Evaluator(EvaluatorSpec(script.read_text(), str(script), bars.slice(400, 700),
                                     Objective("sharpe"))).backtest({"k": 2}, Window(0, 700))
    assert windowed.metrics == sliced.metrics
    assert windowed.equity["timestamp"][0] == bars["timestamp"][400]


def test_errors_in_one_combination_do_not_stop_the_sweep(small_csv, tmp_path) -> None:
    body = "param n = 2 in 0..2\nenter long when close > sma(close, n + 0)\n"
    script = write_script(tmp_path, body, "optimize maximize sharpe")
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    frame = evaluator.run(Space(evaluator.base).grid(), Window(0, 300))
    assert frame["status"].to_list()[0] == "error" and "at least" in frame["error"][0]
    assert frame["status"].to_list()[1:] == ["ok", "ok"]
    assert math.isfinite(frame["objective"][2]) and frame.filter(pl.col("status") == "error")["objective"][0] is None


STOPS = """fee 0.05%
param length = 14 in 8..20 step 6
param sl = 1% in 0.5%..1.5% step 0.5%
stop_loss sl
r = rsi(close, length)
enter long  when r crosses above 30
exit  long  when r crosses above 70
enter short when r crosses below 70
exit  short when r crosses below 30
"""


def test_risk_settings_from_params_are_swept_like_any_param(small_csv, tmp_path) -> None:
    """A stop-loss distance from a param: each combination still equals its plain run."""
    script = write_script(tmp_path, STOPS, "optimize maximize sharpe")
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    frame = evaluator.run(Space(evaluator.base).grid(), Window(0, evaluator.bars.height))
    assert frame.height == 9 and len(set(frame["sharpe"].to_list())) > 3
    for row in frame.iter_rows(named=True):
        plain = plain_run(script, small_csv, params_of(row))
        assert plain == {k: json_safe(row[k]) for k in plain}, params_of(row)


RANDOM_STOPS = """fee 0.05%
param length = 14 in 6..20
param sl = 1% in 0.4%..2%
param tp = 2% in 1%..4%
stop_loss sl
take_profit tp
r = rsi(close, length)
enter long  when r crosses above 30
exit  long  when r crosses above 70
enter short when r crosses below 70
exit  short when r crosses below 30
"""


def test_random_trials_equal_their_plain_runs_in_every_metric(small_csv, tmp_path) -> None:
    """Random continuous stop and target values (many trials share an RSI and run as one group
    of engine inputs): each trial still equals `tradebot run --set ...` in every metric."""
    script = write_script(tmp_path, RANDOM_STOPS, "optimize maximize sharpe")
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    frame = evaluator.run(Space(evaluator.base).sample(10, seed=4), Window(0, evaluator.bars.height))
    assert frame.height == 10 and len(set(frame["sharpe"].to_list())) == 10
    for row in frame.iter_rows(named=True):
        plain = plain_run(script, small_csv, params_of(row))
        assert plain == {k: json_safe(row[k]) for k in plain}, params_of(row)


def test_combinations_differing_only_in_a_stop_share_their_engine_inputs(small_csv, tmp_path) -> None:
    script = write_script(tmp_path, STOPS, "optimize maximize sharpe")
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    rows = Space(evaluator.base).grid().rows()
    groups = group_by_inputs([engine_inputs(evaluator.check(params)) for params in rows])
    assert sorted(len(m) for m in groups.members) == [3, 3, 3]  # 3 lengths x 3 stop distances
    for members in groups.members:
        assert len({rows[i]["length"] for i in members}) == 1 and len({rows[i]["sl"] for i in members}) == 3


POSITION_STATE = """
param mult = 3.0 in 2.0..4.0 step 1.0
param patience = 10 in 5..20 step 5
enter long when close > sma(close, 20)
exit long when close < highest_since_entry(high) - mult * atr(14)
exit long when bars_since_entry >= patience and open_profit_pct < 0.5%
"""


def test_trials_of_a_script_reading_position_state_equal_their_plain_runs(small_csv, tmp_path) -> None:
    """The rules that read position state run in the engine, per trial: `patience` is a constant
    of that program only (no plan column), so trials sharing the plan's inputs still differ, and
    each equals `tradebot run --set ...` in every metric (a sweep that dropped the program would
    trade the entry rule alone, never exiting, in every trial)."""
    script = write_script(tmp_path, POSITION_STATE, "optimize maximize sharpe")
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    grid = Space(evaluator.base).grid()
    frame = evaluator.run(grid, Window(0, evaluator.bars.height))
    assert frame.height == len(grid.rows()) == 12
    assert len(set(frame["trades"].to_list())) > 1
    for row in frame.iter_rows(named=True):
        plain = plain_run(script, small_csv, params_of(row))
        assert plain == {k: json_safe(row[k]) for k in plain}, params_of(row)


def test_a_batch_compiles_each_trials_position_rules_once(small_csv, tmp_path, monkeypatch) -> None:
    """Grouping, the shared plan, the signals and the run all read a trial's engine inputs and
    position program: computed once per trial (it was four times), the same rows as before."""
    script = write_script(tmp_path, POSITION_STATE, "optimize maximize sharpe")
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    programs = [evaluator.check(params) for params in Space(evaluator.base).grid().rows()]
    window = Window(0, evaluator.bars.height)
    evaluator.batch_size()  # sized once per evaluator, from its base program
    compiled = []

    def counting(nodes):
        compiled.append(nodes)
        return compile_position(nodes)

    monkeypatch.setattr(pipeline, "compile_position", counting)
    _, _, rows = evaluator.metric_rows(programs, window)
    assert len(compiled) == len(programs) == 12
    results = evaluator.backtests(programs, window)  # the frame path, program by program
    np.testing.assert_array_equal(rows[:, ALL_KEYS.index("trades")], [r.metrics["all"]["trades"] for r in results])


@pytest.mark.parametrize("maximize", [True, False])
def test_the_progress_lines_best_is_the_best_ok_trial_over_every_batch(maximize: bool) -> None:
    """`Best` (the progress line's best so far) against the best of all batches at once: rows that
    are not "ok" never count, whatever their objective, and an empty batch changes nothing."""
    from tradebot.optimize.sweep import Best

    rng = np.random.default_rng(7)
    batches = []
    for size in (3, 0, 5, 1, 4):
        status = rng.choice(["ok", "few_trades", "error"], size=size, p=[0.6, 0.2, 0.2])
        objective = [float(v) if s == "ok" else (100.0 if maximize else -100.0) for v, s in
                     zip(rng.normal(0, 1, size), status)]
        batches.append(pl.DataFrame({"status": status.tolist(), "objective": objective},
                                    schema={"status": pl.String, "objective": pl.Float64}))
    best = Best(Objective("sharpe", maximize=maximize))
    seen = [best.add(frame) for frame in batches]
    every = pl.concat(batches)
    ok = every.filter(pl.col("status") == "ok")["objective"]
    assert seen[-1] == (ok.max() if maximize else ok.min())
    assert seen[1] == seen[0]  # the empty batch
