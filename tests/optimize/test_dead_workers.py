"""Shared studies survive dead workers (issues 11.3 and 10.14): a SIGKILLed grid worker's block and
a SIGKILLed bayes process's running trials are taken over on resume, promptly and without
duplicates; a waiting worker says what it waits for; `trials N` is the study's total."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from io import StringIO

import optuna
import pytest

from tradebot.optimize.batch import Evaluator, EvaluatorSpec, Objective, Window
from tradebot.optimize.claims import Claims, Owner
from tradebot.optimize.parallel import Workers
from tradebot.optimize.progress import Progress
from tradebot.optimize.search import SearchOptions, run_search
from tradebot.optimize.space import Space
from tradebot.optimize.study import ATTR, open_storage
from tradebot.pipeline import load_bars

from .conftest import RSI, child_env, wait_for, write_script

WIDE = RSI.replace("in 6..18 step 4", "in 4..40").replace("in 20..40 step 10", "in 10..40 step 2")
WHERE = "where lower + 30 < upper"
FEASIBLE_WIDE = 37 * (10 + 15 + 16)  # lengths x (lower, upper) pairs with lower + 30 < upper
RESUME_TIMEOUT = 240  # a hang detector: the old lease kept a dead worker's block for 900 s
posix_only = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and SIGSTOP are POSIX")


def _query(db, sql: str) -> list | None:
    """Rows of `sql` on the study file, or None while a writer holds it."""
    try:
        with sqlite3.connect(db, timeout=0.2) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return None


def _kill_when(proc: subprocess.Popen, db, sql: str) -> None:
    """SIGKILL `proc` at a moment when `sql` finds rows (checked with the process stopped)."""
    def caught() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before it could be killed: {proc.communicate()}")
        os.kill(proc.pid, signal.SIGSTOP)
        if _query(db, sql):
            proc.kill()
            proc.wait()  # reaped, so its pid is free: the next run finds the process gone
            return True
        os.kill(proc.pid, signal.SIGCONT)
        return False
    wait_for(caught, "the moment to kill the worker")


def _command(script, data, url, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tradebot", "run", str(script), "--data", str(data), "--optimize",
            "--storage", url, "--study", "s", *extra]


def _kill_then_resume(tmp_path, data, optimize: str, killable: str) -> subprocess.CompletedProcess:
    """Start a sweep, SIGKILL it once `killable` (SQL, `{pid}` for its pid) finds rows, run it again."""
    script = write_script(tmp_path, WIDE, optimize)
    db = tmp_path / "studies.db"
    command = _command(script, data, "sqlite:///" + str(db))
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    _kill_when(proc, db, killable.format(pid=proc.pid))
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=RESUME_TIMEOUT, env=child_env())
    assert resumed.returncode == 0, resumed.stderr
    return resumed


@posix_only
def test_a_killed_grid_worker_is_taken_over_promptly_and_nothing_runs_twice(small_csv, tmp_path) -> None:
    db = tmp_path / "studies.db"
    resumed = _kill_then_resume(tmp_path, small_csv, "optimize maximize sharpe " + WHERE,
                                "SELECT 1 FROM tradebot_blocks WHERE pid = {pid} AND NOT done "
                                "AND EXISTS (SELECT 1 FROM tradebot_blocks WHERE done)")
    assert f"{FEASIBLE_WIDE:,} of {FEASIBLE_WIDE:,} trials" in resumed.stdout
    trials = [t for t in optuna.load_study(study_name="s", storage="sqlite:///" + str(db)).get_trials()
              if ATTR in t.user_attrs]
    assert sorted(t.user_attrs[ATTR]["trial"] for t in trials) == list(range(FEASIBLE_WIDE))  # each once


def test_a_worker_out_of_blocks_says_what_it_waits_for(small_csv, tmp_path) -> None:
    script = write_script(tmp_path, RSI, "optimize maximize sharpe " + WHERE)
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    url = "sqlite:///" + str(tmp_path / "studies.db")
    options = SearchOptions("grid", None, storage=url, study="s", fingerprint="f")
    other = Claims(open_storage(url), "s", me=Owner("another-machine", 4242))
    assert other.claim(0)  # a live worker elsewhere holds block 0
    stream = StringIO()
    found = []

    def sweep() -> None:
        with Workers(evaluator, jobs=1) as workers:
            found.append(run_search(evaluator, Space(evaluator.base), options, Window(0, evaluator.bars.height),
                                    workers=workers, progress=Progress(24, "sharpe", stream=stream)))

    with other:  # its heartbeat stays fresh while the sweep waits
        thread = threading.Thread(target=sweep)
        thread.start()
        wait_for(lambda: "waiting for block 0 claimed by pid 4242 on host another-machine (heartbeat "
                  in stream.getvalue(), "the waiting message")
        assert found == []  # still waiting: block 0 belongs to a live worker
        other.release([0])  # the other worker gives it back
        thread.join(RESUME_TIMEOUT)
    assert not thread.is_alive() and found[0].trials.height == 24 and not found[0].interrupted


@posix_only
def test_a_killed_bayes_process_leaves_no_trial_running_and_the_total_is_kept(small_csv, tmp_path) -> None:
    db = tmp_path / "studies.db"
    _kill_then_resume(tmp_path, small_csv, "optimize maximize sharpe by bayes trials 40 seed 5 " + WHERE,
                      "SELECT 1 FROM trials WHERE state = 'RUNNING' "
                      "AND EXISTS (SELECT 1 FROM trials WHERE state = 'COMPLETE')")
    study = optuna.load_study(study_name="s", storage="sqlite:///" + str(db))
    trials = study.get_trials()
    assert not [t.number for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    # A trial the kill cut short may have recorded its metrics before it could complete: it is
    # failed and its point re-run, so count the completed trials, each point once.
    evaluated = [t for t in trials if ATTR in t.user_attrs and t.state == optuna.trial.TrialState.COMPLETE]
    assert len(evaluated) == 40 and len({tuple(sorted(t.params.items())) for t in evaluated}) == 40
    retried = [t for t in evaluated if "failed_trial" in t.system_attrs]  # the killed trials, re-run
    assert retried, [(t.number, t.state) for t in trials]


def test_two_bayes_processes_share_the_total_of_trials(small_csv, tmp_path) -> None:
    script = write_script(tmp_path, WIDE, "optimize maximize sharpe by bayes trials 24 seed 5 " + WHERE)
    url = "sqlite:///" + str(tmp_path / "studies.db")
    procs = [subprocess.Popen(_command(script, small_csv, url), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=child_env()) for _ in range(2)]
    outputs = [p.communicate(timeout=RESUME_TIMEOUT) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    evaluated = [t for t in optuna.load_study(study_name="s", storage=url).get_trials() if ATTR in t.user_attrs]
    assert len(evaluated) == 24, outputs  # was 48: each process asked for its own 24
    for out, _ in outputs:  # each process reports the whole study
        assert "of 24 distinct ranked param sets" in out
