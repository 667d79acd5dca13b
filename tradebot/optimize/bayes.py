"""Bayesian search: Optuna's TPE sampler, seeded. It asks up to BAYES_BATCH trials at a time,
evaluates them as one batch and tells the results in trial order. The batch size does not depend
on `--jobs`, so the same seed gives the same trials whatever the number of workers.

`trials N` is the study's total, however many processes work on it: before asking, a process
counts the trials evaluated and running in the study and asks only for the rest; two processes
asking at the same moment compare trial numbers, and the later asks beyond N are closed unrun.
A process with nothing left to ask waits for the others' running trials, saying which.

A trial whose process died would stay RUNNING forever. Each running trial records Optuna
heartbeats (its storage's `heartbeat_interval`) and its owner's host and pid; a trial whose
heartbeat is older than the grace period (`optuna.storages.fail_stale_trials`), or whose process
is gone from this host, is failed and queued again with the same params
(`RetryHeartbeatStaleTrialCallback`), so it is re-run by whoever asks next.

TPE proposes the same point of a discrete space more than once. A repeat is not a new trial: it
is told the value the point already has (TPE learns nothing false), does not count towards N, and
an unevaluated point drawn with the seed is queued in its place. When the space has fewer
feasible points than N, each is evaluated once and the report says so.
"""
from __future__ import annotations

import time
import uuid
import warnings
import numpy as np
import optuna
import polars as pl
from optuna.trial import FrozenTrial, TrialState

from . import interrupt
from .batch import Evaluator, Window
from .claims import HEARTBEAT_SECONDS, STALE_SECONDS, Heartbeat, Owner
from .parallel import Workers
from .progress import Progress
from .space import Candidates, Space
from .study import ATTR, evaluated, open_storage, open_study, plain, row_attrs, suggest, trials_frame
from .sweep import Best, SearchOptions, say

BAYES_BATCH = 8
BAYES_ATTEMPTS = 20  # asks per wanted trial before a tight `where` is declared unsatisfiable
OWNER = "tradebot.owner"  # user attribute of a running trial: {"host", "pid"}
REPEAT = "tradebot.repeat_of"  # user attribute of a trial TPE proposed again: the first one's number
COUNT_SPACE_UP_TO = 1_000_000  # grid points enumerated to know a discrete space's feasible size
WAIT_SECONDS = 0.5
SAY_WAITING_EVERY = 10.0


def run_bayes(evaluator: Evaluator, space: Space, options: SearchOptions, window: Window,
              workers: Workers, progress: Progress | None) -> tuple[pl.DataFrame, bool]:
    storage = (open_storage(options.storage, heartbeat=(int(HEARTBEAT_SECONDS), int(STALE_SECONDS)))
               if options.storage else None)
    sampler = optuna.samplers.TPESampler(seed=sampler_seed(options), multivariate=True)
    study = open_study(name=options.study, objective=evaluator.objective,
                       fingerprint=options.fingerprint, storage=storage, sampler=sampler)
    search = _Bayes(study, storage, space, evaluator, window, workers, progress)
    search.wanted = search.feasible_cap(options.trials or 0, seed=options.seed)
    with Heartbeat(search.beat):
        return search.run()


def sampler_seed(options: SearchOptions) -> int:
    """The seed itself in memory (the same seed, the same trials). With a storage, mixed with a
    per-run id: processes joining a study, or resuming it, would otherwise replay the same
    proposals and only repeat each other's points."""
    if not options.storage:
        return options.seed
    return int(np.random.SeedSequence([options.seed, uuid.uuid4().int]).generate_state(1)[0])


class _Bayes:
    def __init__(self, study: optuna.Study, storage: optuna.storages.RDBStorage | None, space: Space,
                 evaluator: Evaluator, window: Window, workers: Workers, progress: Progress | None) -> None:
        self.study, self.storage, self.space = study, storage, space
        self.evaluator, self.window, self.workers, self.progress = evaluator, window, workers, progress
        self.best = Best(evaluator.objective)
        self.me = Owner.me()
        self.running: list[optuna.Trial] = []
        self.rng = np.random.default_rng(0)
        self.unseen: np.ndarray | None = None  # feasible grid indices of a countable discrete space
        self.wanted = self.asks = 0
        self._said = -float("inf")

    def feasible_cap(self, wanted: int, *, seed: int) -> int:
        """N, or the number of feasible points when a discrete space has fewer (said once)."""
        self.rng = np.random.default_rng(seed)
        if not self.space.is_discrete or self.space.grid_size > COUNT_SPACE_UP_TO:
            return wanted
        self.unseen = self.space.grid_indices()
        if len(self.unseen) < wanted:
            say(self.progress, f"the search space has only {len(self.unseen):,} feasible points: "
                               f"bayes evaluates each once instead of {wanted:,} trials")
            if self.progress is not None:
                self.progress.total = len(self.unseen)
            return len(self.unseen)
        return wanted

    def run(self) -> tuple[pl.DataFrame, bool]:
        done = self.tally()[0]
        if done and self.progress is not None:  # a resumed study: its best so far
            self.progress.resume(min(done, self.wanted), self.best.add(trials_frame(self.study, self.space.dims)))
        try:
            while self.asks < max(1, self.wanted) * BAYES_ATTEMPTS and self.step():
                interrupt.check()
        except KeyboardInterrupt:
            self.close_running()
            return trials_frame(self.study, self.space.dims), True
        return trials_frame(self.study, self.space.dims), False

    def step(self) -> bool:
        """Ask and evaluate one batch, or wait for other processes; False when the study is done."""
        self.fail_abandoned()
        done, others = self.tally()
        if done >= self.wanted:
            return False
        room = self.wanted - done - len(others)
        if room <= 0:
            self.say_waiting(others)
            time.sleep(WAIT_SECONDS)
            return True
        self.running = [self.ask() for _ in range(min(BAYES_BATCH, room))]
        self.asks += len(self.running)
        kept = self.beyond_total(self.running)
        frame = self.evaluate(kept)
        self.running = []
        if self.progress is not None and frame.height:
            self.progress.update(frame.height, self.best.add(frame))
        return True

    # ------------------------------------------------------------ the study's count
    def tally(self) -> tuple[int, list[FrozenTrial]]:
        """(trials evaluated, trials other processes are running) in the study."""
        trials = self.study.get_trials(deepcopy=False)
        done = sum(1 for t in trials if evaluated(t))
        mine = {t.number for t in self.running}
        return done, [t for t in trials if t.state == TrialState.RUNNING and t.number not in mine]

    def beyond_total(self, asked: list[optuna.Trial]) -> list[optuna.Trial]:
        """The asked trials within N; the rest (another process asked at the same moment) closed."""
        trials = self.study.get_trials(deepcopy=False)
        counted = sorted(t.number for t in trials if evaluated(t) or t.state == TrialState.RUNNING)
        kept = []
        for trial in asked:
            if np.searchsorted(counted, trial.number) < self.wanted:
                kept.append(trial)
            else:
                self.study.tell(trial, state=TrialState.FAIL)
        return kept

    def fail_abandoned(self) -> None:
        """Fail (and queue again) running trials whose heartbeat is stale or whose process is gone."""
        if self.storage is None:
            return
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)
        retry = self.storage.get_heartbeat_stale_trial_callback()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = trial.user_attrs.get(OWNER)
            if not owner or not Owner(owner["host"], owner["pid"]).gone():
                continue
            try:  # as fail_stale_trials does; another process may win the race
                if self.storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL) and retry:
                    retry(self.study, self.storage.get_trial(trial._trial_id))
            except optuna.exceptions.UpdateFinishedTrialError:
                continue

    def say_waiting(self, others: list[FrozenTrial]) -> None:
        if time.monotonic() - self._said < SAY_WAITING_EVERY:
            return
        self._said = time.monotonic()
        now = time.time()
        parts = []
        for trial in others[:3]:
            owner = trial.user_attrs.get(OWNER) or {}
            since = now - trial.datetime_start.timestamp() if trial.datetime_start else 0.0
            who = Owner(owner.get("host", "?"), owner.get("pid", 0)).describe() if owner else "another process"
            parts.append(f"trial {trial.number} run by {who} (started {since:.0f} s ago)")
        more = f"; and {len(others) - 3} more" if len(others) > 3 else ""
        say(self.progress, "waiting for " + "; ".join(parts) + more)

    # ------------------------------------------------------------ asking and telling
    def ask(self) -> optuna.Trial:
        with warnings.catch_warnings():  # "heartbeat is supposed to be used with optimize": we beat
            warnings.simplefilter("ignore")
            trial = self.study.ask()
        trial.set_user_attr(OWNER, {"host": self.me.host, "pid": self.me.pid})
        self.beat_one(trial)
        return trial

    def beat(self) -> None:
        for trial in list(self.running):
            self.beat_one(trial)

    def beat_one(self, trial: optuna.Trial) -> None:
        if self.storage is not None:
            self.storage.record_heartbeat(trial._trial_id)

    def close_running(self) -> None:
        """Asked but not finished (Ctrl-C): closed as failed, the study stays usable."""
        for trial in self.running:
            self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        self.running = []

    def evaluate(self, asked: list[optuna.Trial]) -> pl.DataFrame:
        """Suggest, close infeasible and repeated points unrun, evaluate the rest, tell every result."""
        values = [suggest(trial, self.space.dims) for trial in asked]
        columns = {d.name: np.array([v[d.name] for v in values], dtype=np.float64) for d in self.space.dims}
        feasible = self.space.feasible(columns)
        for trial, ok in zip(asked, feasible):
            if not ok:
                self.study.tell(trial, state=TrialState.PRUNED)
        numbers = np.array([t.number for t in asked], dtype=np.int64)
        discrete = self.space.is_discrete
        indices = self.space.indices_of(columns) if discrete else np.full(len(asked), -1, dtype=np.int64)
        fresh = self.first_visits(asked, indices, feasible) if discrete else feasible
        chosen = Candidates(numbers, indices, columns).select(fresh)
        frame = self.workers.evaluate(chosen, self.window) if len(chosen) else pl.DataFrame()
        self.tell(asked, frame)
        return frame

    def first_visits(self, asked: list[optuna.Trial], indices: np.ndarray, feasible: np.ndarray) -> np.ndarray:
        """Which feasible asked points are new; a repeat is told the value its point already has."""
        seen = self.evaluated_points()
        fresh = feasible.copy()
        for i, (trial, index) in enumerate(zip(asked, indices.tolist())):
            if not feasible[i]:
                continue
            if index not in seen:
                seen[index] = None
                continue
            fresh[i] = False
            self.tell_repeat(trial, seen[index])
        return fresh

    def evaluated_points(self) -> dict[int, FrozenTrial | None]:
        """Grid index -> the trial that evaluated it, or None while another process runs it."""
        points: dict[int, FrozenTrial | None] = {}
        mine = {t.number for t in self.running}
        for trial in self.study.get_trials(deepcopy=False):
            if evaluated(trial):
                points.setdefault(trial.user_attrs[ATTR].get("grid_index"), trial)
            elif trial.state == TrialState.RUNNING and trial.number not in mine and self.has_every_param(trial):
                column = {d.name: np.array([float(trial.params[d.name])]) for d in self.space.dims}
                points.setdefault(int(self.space.indices_of(column)[0]), None)
        return points

    def has_every_param(self, trial: FrozenTrial) -> bool:
        return all(d.name in trial.params for d in self.space.dims)

    def tell_repeat(self, trial: optuna.Trial, first: FrozenTrial | None) -> None:
        """Close a repeated point as its first visit ended, and queue an unvisited point instead."""
        trial.set_user_attr(REPEAT, first.number if first else -1)
        if first is not None and first.state == TrialState.COMPLETE:
            self.study.tell(trial, first.value)
        else:  # the first visit is in this very batch, or had no valid result
            self.study.tell(trial, state=TrialState.FAIL)
        self.queue_unvisited()

    def queue_unvisited(self) -> None:
        if self.unseen is None:
            return
        visited = set(self.evaluated_points())
        left = self.unseen[~np.isin(self.unseen, list(visited))]
        if len(left):
            point = self.space.decode(np.array([left[self.rng.integers(len(left))]]))
            params = {d.name: plain(point[d.name][0], d.is_int) for d in self.space.dims}
            self.study.enqueue_trial(params)

    def tell(self, asked: list[optuna.Trial], frame: pl.DataFrame) -> None:
        by_number = {t.number: t for t in asked}
        for row in frame.iter_rows(named=True):
            trial = by_number[row["trial"]]
            trial.set_user_attr(ATTR, row_attrs(row))
            if row["status"] == "ok":
                self.study.tell(trial, row["objective"])
            else:
                few = row["status"] == "few_trades"
                self.study.tell(trial, state=TrialState.PRUNED if few else TrialState.FAIL)


