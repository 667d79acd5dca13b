"""Optuna studies: in memory, or in shared storage that several processes and machines work on.

`--storage` takes an Optuna storage URL (`postgresql://user@host/db` is how machines share a study)
or a plain file name, which means a SQLite file (`studies.db` → `sqlite:///studies.db`). A study
remembers a fingerprint of the script, the data and the search; joining it with anything else is
refused, so every trial in a study answers the same question.

Trials of a grid or a random search are recorded as finished Optuna trials (params, objective,
and every metric as user attributes), so Optuna's tools can read them. Workers share that work by
claiming blocks of candidates (claims.py).
"""
from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

import optuna
import polars as pl
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..errors import NetworkError, UsageError
from .batch import PARAM_PREFIX, Objective
from .space import Dimension

ATTR = "tradebot"  # user attribute holding a trial's position, grid index, status and metrics
FINGERPRINT = "tradebot.fingerprint"
RETRIES = 5
SQLITE_TIMEOUT = 60  # seconds a writer waits for another process's lock before failing


def storage_url(text: str) -> str:
    """`--storage` as a URL: anything without `://` is a SQLite file path."""
    return text if "://" in text else "sqlite:///" + text


# The database driver SQLAlchemy needs for a URL scheme, as pip installs it.
DRIVERS = {"postgresql": "psycopg[binary]", "mysql": "PyMySQL"}


def open_storage(url: str, *, heartbeat: tuple[int, int] | None = None) -> optuna.storages.RDBStorage:
    """The storage at `url`. With `heartbeat` (interval, grace period in seconds), running trials
    whose heartbeat is older than the grace period can be failed and queued again (bayes.py)."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT}}
        _check_sqlite_folder(url)
    for attempt in range(RETRIES):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                beats: dict[str, Any] = {} if heartbeat is None else {
                    "heartbeat_interval": heartbeat[0], "grace_period": heartbeat[1],
                    "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback()}
                storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, **beats)
            if url.startswith("sqlite"):
                _write_ahead(storage.engine)
            return storage
        except ImportError:
            raise UsageError(f"--storage {url}: {_missing_driver(url)}") from None
        except (sa_exc.ArgumentError, ValueError) as exc:
            raise UsageError(f"--storage {url}: {exc}") from None
        except (sa_exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
            if attempt == RETRIES - 1:  # processes creating the schema at once: the losers retry
                raise NetworkError(f"--storage {url}: cannot open the study storage: "
                                   f"{_first_line(exc)}") from None
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _write_ahead(engine: sa.engine.Engine) -> None:
    """SQLite in write-ahead-log mode with NORMAL syncing: recording a trial took 72 ms in the
    default mode on a loaded machine and 30 ms in this one (docs/optimize.md, "Jobs"), readers no
    longer wait for writers, and a crash of the process still loses nothing committed."""
    def configure(connection: Any, record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    sa.event.listen(engine, "connect", configure)
    engine.dispose()  # connections opened while Optuna created its tables get the settings too


def _check_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder; a missing one is the user's typo, not a network fault."""
    path = url.split(":///", 1)[1] if ":///" in url else ""
    folder = Path(path).parent if path and not path.startswith(":memory:") else None
    if folder is not None and not folder.is_dir():
        raise UsageError(f"--storage {url}: the folder {folder} does not exist (create it, or name a "
                         "file in an existing folder)")


def _missing_driver(url: str) -> str:
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    package = DRIVERS.get(scheme)
    if package is None:
        return f"no database driver for `{scheme}` is installed"
    extra = "  (or `pip install -e '.[postgres]'` in a clone)" if scheme == "postgresql" else ""
    return f"the `{scheme}` driver is not installed: pip install '{package}'{extra}"


def _first_line(exc: BaseException) -> str:
    """SQLAlchemy's own first line says what failed (`connection refused`, a bad password);
    the rest is the SQL and a link to its docs."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__


def open_study(*, name: str, objective: Objective, fingerprint: str,
               storage: optuna.storages.BaseStorage | None,
               sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """Create or load the study `name`, refusing one made for another script, data or search."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "maximize" if objective.maximize else "minimize"
    study = optuna.create_study(study_name=name, storage=storage, direction=direction,
                                sampler=sampler, load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise UsageError(f"study `{name}` was made to {study.direction.name.lower()}; use another --study")
    known = study.user_attrs.get(FINGERPRINT)
    if known is None:
        study.set_user_attr(FINGERPRINT, fingerprint)
    elif known != fingerprint:
        raise UsageError(f"study `{name}` was made for another script, data set or search; "
                         "use another --study name (or the same script, data and method)")
    return study


# ---------------------------------------------------------------- distributions
def distribution(dim: Dimension) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution of a dimension (the grid's values exactly when it is discrete)."""
    info = dim.info
    if dim.values is None:
        return optuna.distributions.FloatDistribution(dim.low, dim.high)
    if info.choices is not None:
        return optuna.distributions.CategoricalDistribution([plain(v, dim.is_int) for v in dim.values])
    step = info.step if info.step is not None else 1
    if dim.is_int:
        return optuna.distributions.IntDistribution(int(dim.low), int(dim.high), step=int(step))
    return optuna.distributions.FloatDistribution(dim.low, dim.high, step=step)


def plain(value: float, is_int: bool) -> float:
    """A value as Optuna holds it: int for a whole-number param."""
    return int(value) if is_int else float(value)


def suggest(trial: optuna.Trial, dims: Iterable[Dimension]) -> dict[str, float]:
    """Ask a trial for a value of every dimension."""
    values: dict[str, float] = {}
    for dim in dims:
        dist = distribution(dim)
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            value = trial.suggest_categorical(dim.name, dist.choices)
        elif isinstance(dist, optuna.distributions.IntDistribution):
            value = trial.suggest_int(dim.name, dist.low, dist.high, step=dist.step)
        else:
            value = float(f"{trial.suggest_float(dim.name, dist.low, dist.high, step=dist.step):.12g}")
        values[dim.name] = value  # type: ignore[assignment]
    return values


# ---------------------------------------------------------------- trials <-> frames
def frozen_trials(frame: pl.DataFrame, dims: tuple[Dimension, ...]) -> list[optuna.trial.FrozenTrial]:
    """Evaluated rows as finished Optuna trials: complete, pruned (too few trades) or failed."""
    dists = {d.name: distribution(d) for d in dims}
    trials = []
    for row in frame.iter_rows(named=True):
        params = {d.name: plain(row[PARAM_PREFIX + d.name], d.is_int) for d in dims}
        trials.append(optuna.trial.create_trial(
            params=params, distributions=dists, user_attrs={ATTR: row_attrs(row)},
            state=STATE_OF[row["status"]],
            value=row["objective"] if row["status"] == "ok" else None))
    return trials


STATE_OF = {"ok": optuna.trial.TrialState.COMPLETE, "few_trades": optuna.trial.TrialState.PRUNED,
            "error": optuna.trial.TrialState.FAIL}


def evaluated(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial holds a result: its row, told in the state its status means. A process
    killed between recording the row and telling the state leaves a trial that is failed as
    abandoned (bayes.py) with a row that does not count; its retry runs it again."""
    attrs = trial.user_attrs.get(ATTR)
    return attrs is not None and STATE_OF.get(attrs.get("status")) == trial.state


def row_attrs(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a trial keeps besides its params: everything in its row (JSON: inf as a string)."""
    return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items() if not k.startswith(PARAM_PREFIX)}


def trials_frame(study: optuna.Study, dims: tuple[Dimension, ...]) -> pl.DataFrame:
    """Every evaluated trial of a study as rows like the Evaluator's (sorted by position)."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if not evaluated(trial):
            continue  # asked but never evaluated (constraint-pruned, interrupted, a repeat)
        attrs = trial.user_attrs[ATTR]
        row = {k: (float(v) if isinstance(v, str) and v in ("inf", "-inf") else v) for k, v in attrs.items()}
        row.update({PARAM_PREFIX + d.name: float(trial.params[d.name]) for d in dims})
        rows.append(row)
    if not rows:
        return pl.DataFrame()
    # A block taken over from a worker that was only frozen, not dead, may be recorded twice.
    frame = pl.DataFrame(rows, infer_schema_length=None).sort("trial")
    return frame.unique(subset="trial", keep="first", maintain_order=True)


def recorded_positions(study: optuna.Study) -> set[int]:
    """Positions of the candidates a study already has results for."""
    return {int(t.user_attrs[ATTR]["trial"]) for t in study.get_trials(deepcopy=False) if evaluated(t)}
