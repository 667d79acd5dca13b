"""`tradebot run SCRIPT --optimize`: the script's `optimize` statement, overridden by flags, run
as a sweep (with validation if the statement asks for it), then reported.

The flags are declared in flags.py (importing this module loads Optuna; `tradebot run` without
--optimize never does).
Exit codes: 0 done, 2 bad script or flags, 130 interrupted (the best so far is still reported).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence, TextIO

import polars as pl

from ..config import Config
from ..data.panel import Panel
from ..errors import UsageError
from ..lang.diagnostics import render_one
from ..lang.optimize_check import DEFAULT_TRIALS, OptimizeSpec
from ..pipeline import compile_source, data_path, is_portfolio, load_bars, read_script, require_volume
from ..textkit import format_duration
from . import interrupt
from .flags import CONFIRM_ABOVE, DEFAULT_TOP
from .batch import DEFAULT_MEMORY_MB, Evaluator, EvaluatorSpec, Objective, Window
from .parallel import PROBE, Workers, plan_jobs
from .portfolio import portfolio_evaluator, refuse_portfolio_objective, report_bars
from .progress import Progress
from .report import RunInfo, format_report, sha256_file, write_files
from .review import Review, review
from .search import SearchOptions, SearchResult, estimate_seconds, run_search, sweep_candidates
from .space import Candidates, Space
from .study import storage_url
from .validate import Fold, make_folds, run_validation

INTERRUPTED = 130


@dataclass(frozen=True)
class Setup:
    """Everything a sweep needs, resolved from the script and the flags."""

    evaluator: Evaluator
    space: Space
    spec: OptimizeSpec
    options: SearchOptions
    info: RunInfo


def optimize_command(args: argparse.Namespace, config: Config,
                     report: Callable[[Review, RunInfo, pl.DataFrame | Panel], None] | None = None) -> int:
    """Run the sweep and print its report; `report` (the CLI's --report) also gets the outcome."""
    if args.overrides:
        raise UsageError("--set fixes a param for a plain run; to optimize with a param fixed, narrow its "
                         "range in the script (`param fast = 10 in 10..10`)")
    top = args.top or DEFAULT_TOP
    setup = prepare(args, config)
    window = Window(0, setup.evaluator.bars.height)
    candidates = None if setup.options.method == "bayes" else sweep_candidates(setup.space, setup.options)
    if candidates is not None:
        setup = replace(setup, info=replace(setup.info, candidates=len(candidates)))
        confirm(setup, candidates, window, yes=args.yes)
    if _enabled(config.get("optimize", "auto_jobs", True)):
        setup = choose_jobs(setup, candidates, window)
    with interrupt.stop_on_ctrl_c():  # from here on, Ctrl-C still gives the report and --out
        with Workers(setup.evaluator, jobs=setup.options.jobs) as workers:
            outcome = _run(setup, workers, window, candidates, top=top)
        text = format_report(outcome, setup.info, top=top)
        print(text, end="")
        if args.out:
            paths = write_files(outcome, setup.info, Path(args.out), text=text)
            print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
        if report is not None:
            report(outcome, setup.info, report_bars(setup.evaluator))
    return INTERRUPTED if outcome.search.interrupted or interrupt.pressed() else 0


def _run(setup: Setup, workers: Workers, window: Window, candidates: Candidates | None, *,
         top: int) -> Review:
    spec, evaluator = setup.spec, setup.evaluator
    if spec.validation is None:
        found = _search(setup, workers, window, candidates, label="")
        return review(evaluator, setup.space, found, window, top=top)

    def fold_search(fold: Fold) -> SearchResult:
        options = setup.options
        sub = SearchOptions(options.method, options.trials, options.seed, options.jobs, options.storage,
                            f"{options.study}/fold-{fold.number}", options.fingerprint)
        return _search(Setup(evaluator, setup.space, spec, sub, setup.info), workers, fold.train, candidates,
                       label=f"fold {fold.number}: ")

    validation = run_validation(spec.validation, evaluator, fold_search)
    last = validation.folds[-1]
    # An interrupted search ran no test window (run_validation): the top table must not show one.
    test = last.fold.test if spec.validation.kind == "split" and not last.search.interrupted else None
    return review(evaluator, setup.space, last.search, last.fold.train, top=top, validation=validation,
                  test_window=test)


def _search(setup: Setup, workers: Workers, window: Window, candidates: Candidates | None, *,
            label: str) -> SearchResult:
    total = len(candidates) if candidates is not None else setup.options.trials
    progress = Progress(total, setup.spec.objective, label=label)
    try:
        return run_search(setup.evaluator, setup.space, setup.options, window, workers=workers,
                          progress=progress, candidates=candidates)
    finally:
        progress.close()


def choose_jobs(setup: Setup, candidates: Candidates | None, window: Window) -> Setup:
    """`--jobs N`, or one process when the sweep is too short to pay for N workers (said why)."""
    options = setup.options
    if options.jobs <= 1:
        return setup
    pool = candidates if candidates is not None else setup.space.sample(PROBE, seed=options.seed)
    count = len(candidates) if candidates is not None else options.trials or 0
    if len(pool) == 0:
        return setup
    plan = plan_jobs(setup.evaluator, pool.take(0, PROBE), window, jobs=options.jobs,
                     trials=count * _searched_share(setup.spec, window))
    if plan.jobs == options.jobs:
        return setup
    print(f"running in one process: {plan.why_fewer}", file=sys.stderr)
    return replace(setup, options=replace(options, jobs=plan.jobs), info=replace(setup.info, jobs=plan.jobs))


def _enabled(value: object) -> bool:
    """A boolean setting from the file (a bool) or the environment (a string)."""
    return str(value).strip().lower() not in ("0", "false", "no", "off")


def _searched_share(spec: OptimizeSpec, window: Window) -> float:
    """Bars searched over all folds, in units of the whole window (1 without validation)."""
    if spec.validation is None or window.bars == 0:
        return 1.0
    return sum(f.train.bars for f in make_folds(spec.validation, window.bars)) / window.bars


def prepare(args: argparse.Namespace, config: Config) -> Setup:
    source = read_script(args.script)
    strategy = compile_source(source, str(args.script), path=args.script)
    checked = strategy.checked
    for warning in checked.warnings:
        print(render_one(warning, checked.source, checked.filename), file=sys.stderr)
    spec = checked.optimize
    if spec is None:
        raise UsageError(f"{args.script} has no `optimize` statement: add one, for example "
                         "`optimize maximize sharpe`, to say what to search for (docs/optimize.md)")
    method = args.method or spec.method
    if method == "grid" and args.trials:
        raise UsageError("--trials is for --method random or bayes; a grid tries every combination")
    trials = None if method == "grid" else args.trials or spec.trials or DEFAULT_TRIALS
    seed = spec.seed if args.seed is None else args.seed
    jobs = args.jobs or 1
    memory = int(config.get("optimize", "memory_mb", DEFAULT_MEMORY_MB))
    objective = Objective(spec.objective, spec.maximize, spec.min_trades)
    evaluator_spec = EvaluatorSpec(source, str(args.script), pl.DataFrame(), objective,
                                   memory_mb=max(16, memory // jobs))
    if is_portfolio(strategy):
        data, files, evaluator = portfolio_evaluator(strategy, args, config, evaluator_spec)
    else:
        refuse_portfolio_objective(strategy)
        data = files = data_path(strategy, flag=args.data, config=config)
        bars = load_bars(data)
        require_volume(strategy, bars)
        evaluator = Evaluator(replace(evaluator_spec, bars=bars))
    study = args.study or args.script.stem
    storage = storage_url(args.storage) if args.storage else None  # `studies.db` is a SQLite file
    options = SearchOptions(method, trials, seed, jobs, storage, study,
                            fingerprint(source, files, method=method, trials=trials, seed=seed))
    info = RunInfo(strategy.title, args.script, data, method, trials, seed, jobs,
                   storage, study if storage else None, None, evaluator.bars.height,
                   () if isinstance(files, Path) else tuple(files))
    return Setup(evaluator, Space(evaluator.base), spec, options, info)


def fingerprint(source: str, data: Path | Sequence[Path], *, method: str, trials: int | None,
                seed: int) -> str:
    """What a shared study must agree on: script text, data bytes (every file of a universe) and
    the search."""
    digest = hashlib.sha256(source.encode("utf-8"))
    for path in [data] if isinstance(data, Path) else data:
        digest.update((sha256_file(path) or str(path)).encode())
    digest.update(f"{method}|{trials}|{seed}".encode())
    return digest.hexdigest()


def confirm(setup: Setup, candidates: Candidates, window: Window, *, yes: bool,
            stdin: TextIO | None = None, stderr: TextIO | None = None) -> None:
    """Ask before a sweep over CONFIRM_ABOVE combinations, with the time it will take."""
    stdin, stderr = stdin or sys.stdin, stderr or sys.stderr
    if len(candidates) <= CONFIRM_ABOVE or yes:
        return
    seconds = estimate_seconds(setup.evaluator, candidates, window, jobs=setup.options.jobs)
    what = (f"{len(candidates):,} combinations, about {format_duration(seconds)} "
            f"with {setup.options.jobs} job{'s' * (setup.options.jobs > 1)}")
    if not stdin.isatty():
        raise UsageError(f"refusing to run {what} without confirmation: pass --yes")
    stderr.write(f"Run {what}? [y/N] ")
    stderr.flush()
    if stdin.readline().strip().lower() not in ("y", "yes"):
        raise UsageError("cancelled")
