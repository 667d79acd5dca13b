"""Shared studies, on SQLite and on a real PostgreSQL server: two processes on one study split a
grid with no duplicate and no gap; an interrupted study resumes where it stopped; claims are
atomic leases."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tradebot.optimize.batch import Evaluator, EvaluatorSpec, Objective, Window
from tradebot.optimize.parallel import Workers
from tradebot.optimize.search import SearchOptions, run_search
from tradebot.optimize.space import Space
from tradebot.optimize.claims import Claims, Owner
from tradebot.optimize.study import ATTR, open_storage, storage_url
from tradebot.pipeline import load_bars

from .conftest import RSI, child_env, wait_for, write_script

OPTIMIZE = "optimize maximize sharpe where lower + 30 < upper"
FEASIBLE = 24  # 4 lengths x (3 x 3 pairs less the 3 with lower + 30 >= upper)


def study_trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return [t for t in optuna.load_study(study_name=name, storage=url).get_trials() if ATTR in t.user_attrs]


def test_storage_urls_default_to_sqlite_files() -> None:
    assert storage_url("studies.db") == "sqlite:///studies.db"
    assert storage_url("postgresql://u@db/x") == "postgresql://u@db/x"


def test_two_processes_share_one_grid_without_duplicates(small_csv, tmp_path, storage) -> None:
    script = write_script(tmp_path, RSI, OPTIMIZE)
    url = storage
    command = [sys.executable, "-m", "tradebot", "run", str(script), "--data", str(small_csv), "--optimize",
               "--storage", url, "--study", "shared"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
             for _ in range(2)]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    trials = study_trials(url, "shared")
    positions = [t.user_attrs[ATTR]["trial"] for t in trials]
    points = [tuple(sorted(t.params.items())) for t in trials]
    assert sorted(positions) == list(range(FEASIBLE))
    assert len(set(points)) == FEASIBLE
    assert all(p["lower"] + 30 < p["upper"] for p in (t.params for t in trials))
    for out, _ in outputs:  # each process reports the whole study, not only its share
        assert f"of {FEASIBLE} distinct ranked param sets" in out


class _StopAfter:
    """A progress stand-in that presses Ctrl-C after `batches` batches."""

    def __init__(self, batches: int) -> None:
        self.left = batches

    def update(self, finished: int, best: float | None) -> None:
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


@pytest.mark.parametrize("method, trials", [("grid", None), ("bayes", 10)])
def test_an_interrupted_study_resumes_where_it_stopped(small_csv, tmp_path, storage, method, trials) -> None:
    script = write_script(tmp_path, RSI, OPTIMIZE)
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    space = Space(evaluator.base)
    url = storage
    options = SearchOptions(method, trials, seed=3, storage=url, study="resume", fingerprint="f")
    window = Window(0, evaluator.bars.height)
    with Workers(evaluator, jobs=1) as workers:
        first = run_search(evaluator, space, options, window, workers=workers, progress=_StopAfter(1))
        assert first.interrupted and 0 < first.trials.height < (trials or FEASIBLE)
        second = run_search(evaluator, space, options, window, workers=workers)
    assert not second.interrupted
    expected = trials or FEASIBLE
    assert second.trials.height == expected
    assert sorted(second.trials["trial"].to_list()) == sorted(set(second.trials["trial"].to_list()))
    assert first.trials.equals(second.trials.head(first.trials.height))  # finished work is kept, not redone
    if method == "grid":
        with Workers(evaluator, jobs=1) as workers:
            fresh = run_search(evaluator, space, SearchOptions("grid", None), window, workers=workers)
        assert fresh.trials.select(["trial", "sharpe"]).equals(second.trials.select(["trial", "sharpe"]))


def test_a_study_refuses_another_search(small_csv, tmp_path) -> None:
    from tradebot.errors import UsageError

    script = write_script(tmp_path, RSI, OPTIMIZE)
    evaluator = Evaluator(EvaluatorSpec(script.read_text(), str(script), load_bars(small_csv), Objective("sharpe")))
    url = storage_url(str(tmp_path / "s.db"))
    with Workers(evaluator, jobs=1) as workers:
        run_search(evaluator, Space(evaluator.base), SearchOptions("random", 2, storage=url, study="s",
                                                                   fingerprint="one"),
                   Window(0, 300), workers=workers)
        with pytest.raises(UsageError, match="another script, data set or search"):
            run_search(evaluator, Space(evaluator.base), SearchOptions("random", 2, storage=url, study="s",
                                                                       fingerprint="two"),
                       Window(0, 300), workers=workers)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: no process has this pid any more
    return child.pid


def test_claims_are_exclusive_while_their_owner_lives(storage: str) -> None:
    storage = open_storage(storage)
    alive = Claims(storage, "s")
    other = Claims(storage, "s")
    assert alive.claim(0) and not other.claim(0)
    assert Claims(storage, "another study").claim(0)  # claims are per study
    elsewhere = Claims(storage, "s", me=Owner("another-machine", os.getpid()))
    assert elsewhere.claim(1) and not other.claim(1)  # a fresh heartbeat: alive, wherever it is
    impatient = Claims(storage, "s", stale=0.2)  # heartbeats older than 0.2 s count as dead
    wait_for(lambda: impatient.claim(1), "a stale heartbeat to free block 1")
    impatient.finish(1)
    assert not Claims(storage, "s", stale=0.0).claim(1)  # a finished block is never retaken
    done, live = other.settled()
    assert done == {1} and set(live) == {0} and live[0].holder == Owner.me()
    alive.release([0])
    assert other.claim(0)


@pytest.mark.skipif(os.name != "posix", reason="a pid is checked on POSIX; elsewhere the heartbeat decides")
def test_a_claim_whose_process_is_gone_is_taken_over_at_once(storage: str) -> None:
    storage = open_storage(storage)
    dead = Claims(storage, "s", me=Owner(Owner.me().host, _dead_pid()))
    assert dead.claim(0)
    assert Claims(storage, "s").claim(0)  # its heartbeat is fresh, but its process is gone


def test_a_live_owner_renews_its_heartbeat(storage: str) -> None:
    storage = open_storage(storage)
    with Claims(storage, "s", heartbeat=0.05) as mine:
        assert mine.claim(0)
        first = Claims(storage, "s")._rows(0)[0].heartbeat
        wait_for(lambda: Claims(storage, "s")._rows(0)[0].heartbeat > first, "a renewed heartbeat")


def test_a_missing_database_driver_says_what_to_install() -> None:
    from tradebot.errors import UsageError

    with pytest.raises(UsageError, match=r"the `mysql` driver is not installed: pip install 'PyMySQL'"):
        open_storage("mysql://someone@127.0.0.1:3306/studies")


def test_an_unreachable_database_is_a_network_error_not_a_traceback(tmp_path) -> None:
    from .postgres import free_port

    pytest.importorskip("psycopg")
    script = write_script(tmp_path, RSI, OPTIMIZE)
    url = f"postgresql://someone@127.0.0.1:{free_port()}/studies"  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "tradebot", "run", str(script), "--optimize", "--storage", url],
                          capture_output=True, text=True, timeout=120, env=child_env())
    assert done.returncode == 4, done.stderr
    assert f"--storage {url}: cannot open the study storage: connection failed" in done.stderr
    assert "Traceback" not in done.stderr
