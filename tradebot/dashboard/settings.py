"""The dashboard's settings, from the `[ui]` config section (tradebot.toml, TRADEBOT_UI_* or flags).

Every folder is resolved once, to an absolute path, when the dashboard starts: requests are then
checked against these roots (see `paths`), whatever the working directory of a job.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import UsageError

SECTION = "ui"
DEFAULT_PORT = 8765
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
STATE_DIR = ".tradebot"  # inside the project folder: jobs/, studies.db


@dataclass(frozen=True)
class DashboardSettings:
    """Where the dashboard reads and writes, and how it is reached."""

    project: Path  # the .tbs files, reports/ and the state folder live under it
    store: Path  # the candle store (config bybit.store)
    sessions: Path  # paper/live session folders (config ui.sessions)
    storage: str  # the Optuna storage URL sweeps use and the Sweeps page lists (config ui.storage)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None  # required on every request when set

    @property
    def state(self) -> Path:
        return self.project / STATE_DIR

    @property
    def jobs(self) -> Path:
        return self.state / "jobs"

    @property
    def reports(self) -> Path:
        return self.project / "reports"

    @property
    def roots(self) -> tuple[Path, ...]:
        """The folders a request may read from."""
        return (self.project, self.store, self.sessions)


def token_required(host: str) -> bool:
    """Any address but the local one needs a token: another machine (or user) could reach it."""
    return host not in LOCAL_HOSTS


def load_settings(config: Config, *, project: Path | None = None, host: str | None = None,
                  port: int | None = None, token: str | None = None) -> DashboardSettings:
    project = (project or Path.cwd()).resolve()
    host = str(config.get(SECTION, "host", "127.0.0.1", flag=host))
    _check_host(host)
    try:
        port = int(config.get(SECTION, "port", DEFAULT_PORT, flag=port))
    except ValueError:
        raise UsageError(f"ui.port: expected a port number, got {config.get(SECTION, 'port')!r}") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"--port: {port} is not a port number (0-65535)")
    store = _under(project, config.get("bybit", "store", "data/bybit"))
    sessions = _under(project, config.get(SECTION, "sessions", "sessions"))
    storage = str(config.get(SECTION, "storage", f"{STATE_DIR}/studies.db"))
    if "://" not in storage:  # a SQLite file, relative to the project whatever a job's folder
        storage = "sqlite:///" + _under(project, storage).as_posix()
    token = config.get(SECTION, "token", None, flag=token) or None
    return DashboardSettings(project, store, sessions, storage, host, port, token)


def _under(project: Path, folder: object) -> Path:
    path = Path(str(folder)).expanduser()
    return (path if path.is_absolute() else project / path).resolve()


def _check_host(host: str) -> None:
    if host in LOCAL_HOSTS:
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"--host: '{host}' is not an IP address; use 127.0.0.1 (this machine only) "
                         "or the address of one of this machine's interfaces") from None
