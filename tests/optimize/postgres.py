"""A throwaway PostgreSQL server on 127.0.0.1, started by the tests that share a study through it.

Several machines share an optimization study through PostgreSQL, so the claims and the trial
records are tested against a real server, not only SQLite. The server is the machine's own
PostgreSQL (`initdb`/`pg_ctl` on PATH or in Debian's /usr/lib/postgresql/*/bin; `.ci/run` installs
it): a new cluster in a temporary folder, trust authentication, loopback only, a free port, no
fsync, removed afterwards. PostgreSQL refuses to run as root, so under root it runs as the
`postgres` user. Where none of this is possible the tests skip and say why.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

USER = "tradebot"


def server_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, newest PostgreSQL first."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)]
    return next((c for c in candidates if (c / "initdb").exists()), None)


def why_unavailable() -> str | None:
    """None when a server can be started here, else the reason to skip."""
    if os.name == "nt":
        return "the PostgreSQL tests start a local server with POSIX tools"
    if server_bin() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql)"
    if _is_root() and (shutil.which("runuser") is None or not _user_exists("postgres")):
        return "running as root without a `postgres` user to run the server as"
    try:
        import psycopg  # noqa: F401 — SQLAlchemy's driver for postgresql:// URLs
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    return None


class PostgresServer:
    def __init__(self) -> None:
        self.bin = server_bin()
        assert self.bin is not None
        # Not under pytest's tmp_path: its parents are private to root, and the server may run
        # as another user.
        self.root = Path(tempfile.mkdtemp(prefix="tradebot-pg-"))
        self.port = free_port()
        self._as_server_user = ["runuser", "-u", "postgres", "--"] if _is_root() else []
        if _is_root():
            shutil.chown(self.root, user="postgres")

    def start(self) -> "PostgresServer":
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(data), "-l", str(self.root / "log"), "-o", options, "-w", "start")
        return self

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        import psycopg

        name = "study_" + uuid.uuid4().hex[:12]
        # autocommit: CREATE DATABASE cannot run inside a transaction
        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        done = subprocess.run([*self._as_server_user, str(self.bin / tool), *args],
                              capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}\n{tail}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
