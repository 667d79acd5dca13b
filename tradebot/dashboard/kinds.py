"""The allow-list of jobs. A job kind names one CLI command; its form fields are validated here and
become an argument list (`python -m tradebot <command> …`), never a shell line. Anything not
listed, or not of the expected shape, is refused with a message before a process starts."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from ..data.intervals import INTERVALS, parse_time
from ..errors import UsageError
from .paths import inside, shown
from .settings import DashboardSettings

SYMBOL = re.compile(r"^[A-Za-z0-9]{2,30}$")
CATEGORIES = ("linear", "spot", "inverse")
METHODS = ("grid", "random", "bayes")
MAX_SYMBOLS = 20


class JobInputError(UsageError):
    """A job request with a missing, unknown or malformed field."""


@dataclass(frozen=True)
class JobSpec:
    """What to run: the CLI arguments after `tradebot`, a one-line title, and the files it makes."""

    kind: str
    args: tuple[str, ...]
    title: str
    report: Path | None = None  # the HTML report the job writes, when it writes one
    session: Path | None = None  # the paper session folder


Builder = Callable[[Mapping[str, str], DashboardSettings, str], JobSpec]


def _field(form: Mapping[str, str], name: str, *, default: str | None = None) -> str:
    value = str(form.get(name, "") or "").strip()
    if not value:
        if default is None:
            raise JobInputError(f"{name}: required")
        return default
    return value


def _symbols(form: Mapping[str, str]) -> list[str]:
    symbols = _field(form, "symbols").replace(",", " ").split()
    bad = [s for s in symbols if not SYMBOL.match(s)]
    if bad:
        raise JobInputError(f"symbols: '{bad[0]}' is not a symbol (letters and digits, e.g. BTCUSDT)")
    if len(symbols) > MAX_SYMBOLS:
        raise JobInputError(f"symbols: at most {MAX_SYMBOLS} at once")
    return [s.upper() for s in symbols]


def _choice(form: Mapping[str, str], name: str, choices, default: str) -> str:
    value = _field(form, name, default=default)
    if value not in choices:
        raise JobInputError(f"{name}: '{value}' is not one of {', '.join(choices)}")
    return value


def _positive(form: Mapping[str, str], name: str, *, number=int) -> str | None:
    text = str(form.get(name, "") or "").strip()
    if not text:
        return None
    try:
        value = number(text)
    except ValueError:
        raise JobInputError(f"{name}: '{text}' is not a number") from None
    if not value > 0:
        raise JobInputError(f"{name}: must be above 0")
    return str(value)


def _series(form: Mapping[str, str], settings: DashboardSettings) -> list[str]:
    interval = _choice(form, "interval", tuple(INTERVALS), "1h")
    category = _choice(form, "category", CATEGORIES, "linear")
    return ["--interval", interval, "--category", category, "--store", str(settings.store)]


def _script(form: Mapping[str, str], settings: DashboardSettings) -> Path:
    return inside((settings.project,), _field(form, "script"), base=settings.project, suffixes=(".tbs",))


def fetch(form: Mapping[str, str], settings: DashboardSettings, job_id: str) -> JobSpec:
    symbols = _symbols(form)
    since = _field(form, "since")
    parse_time(since, now_ms=int(time.time() * 1000))  # a misspelt time is refused here, not in the log
    args = ["fetch", *symbols, *_series(form, settings), "--since", since]
    until = str(form.get("until", "") or "").strip()
    if until:
        parse_time(until, now_ms=int(time.time() * 1000), flag="--until")
        args += ["--until", until]
    return JobSpec("fetch", tuple(args), f"fetch {' '.join(symbols)} {form.get('interval') or '1h'}")


def stream(form: Mapping[str, str], settings: DashboardSettings, job_id: str) -> JobSpec:
    symbols = _symbols(form)
    args = ["stream", *symbols, *_series(form, settings)]
    duration = _positive(form, "duration", number=float)
    if duration:
        args += ["--duration", duration]
    return JobSpec("stream", tuple(args), f"stream {' '.join(symbols)} {form.get('interval') or '1h'}")


def run(form: Mapping[str, str], settings: DashboardSettings, job_id: str) -> JobSpec:
    script = _script(form, settings)
    report = settings.reports / "dashboard" / f"{script.stem}-{job_id}.html"
    return JobSpec("run", ("run", str(script), "--report", str(report)),
                   f"run {shown(script, settings.project)}", report=report)


def optimize(form: Mapping[str, str], settings: DashboardSettings, job_id: str) -> JobSpec:
    script = _script(form, settings)
    report = settings.reports / "dashboard" / f"{script.stem}-sweep-{job_id}.html"
    args = ["run", str(script), "--optimize", "--yes", "--storage", settings.storage, "--report", str(report)]
    method = str(form.get("method", "") or "").strip()
    if method:
        args += ["--method", _choice(form, "method", METHODS, "grid")]
    for name in ("trials", "jobs"):
        value = _positive(form, name)
        if value:
            args += [f"--{name}", value]
    return JobSpec("optimize", tuple(args), f"optimize {shown(script, settings.project)}", report=report)


def paper(form: Mapping[str, str], settings: DashboardSettings, job_id: str) -> JobSpec:
    """A session on the live stream of one symbol, or on a stored CSV (inside the project or the
    store) replayed bar by bar as if live."""
    script = _script(form, settings)
    session = settings.sessions / f"{script.stem}-{job_id}"
    replay = str(form.get("replay", "") or "").strip()
    if replay:
        path = inside((settings.project, settings.store), replay, base=settings.project, suffixes=(".csv",))
        source, what = ["--replay", str(path)], f"replay {shown(path, settings.project)}"
    else:
        symbols = _symbols(form)
        if len(symbols) != 1:
            raise JobInputError("symbols: a paper session from the dashboard follows one symbol")
        source, what = ["--symbol", symbols[0], *_series(form, settings)], symbols[0]
    return JobSpec("paper", ("paper", str(script), *source, "--out", str(session)),
                   f"paper {shown(script, settings.project)} {what}", session=session)


KINDS: Mapping[str, Builder] = {"fetch": fetch, "stream": stream, "run": run, "optimize": optimize,
                                "paper": paper}


def build(kind: str, form: Mapping[str, str], settings: DashboardSettings, job_id: str) -> JobSpec:
    """The job `form` asks for, or JobInputError."""
    builder = KINDS.get(kind)
    if builder is None:
        raise JobInputError(f"unknown job kind '{kind}' (one of {', '.join(KINDS)})")
    return builder(form, settings, job_id)
