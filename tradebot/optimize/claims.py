"""Who is working on a shared study, and whether they are still alive.

Workers of a grid or random sweep share it by claiming blocks of candidates in a small table of
their own, `tradebot_blocks`, with one INSERT per block: the primary key makes a claim atomic on
SQLite and PostgreSQL alike (Optuna's own queue of waiting trials is not race-free on SQLite).

A claim records its owner (a random id per run), the owner's host name and process id, and a
heartbeat: the time the owner last said it was alive, renewed every HEARTBEAT_SECONDS by a thread
of the owner. A claim not done is taken over by another process when its owner is gone:
- on the same host (POSIX), at once when no process has the owner's pid any more (a kill -9, a
  closed terminal);
- anywhere, when its heartbeat is older than STALE_SECONDS (another machine, Windows, a frozen
  process). Clocks of machines sharing a study are assumed in step (NTP) to well within that.
Only the candidates of a taken-over block that were not recorded yet run again.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import optuna
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from .study import RETRIES

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 30.0  # six missed heartbeats: the owner is taken for dead
HOST_LENGTH = 255


@dataclass(frozen=True)
class Owner:
    """A process working on a study: its host name and process id."""

    host: str
    pid: int

    @classmethod
    def me(cls) -> Owner:
        return cls(socket.gethostname()[:HOST_LENGTH], os.getpid())

    def gone(self) -> bool:
        """Whether this process is known to have ended (only decidable on this host, on POSIX)."""
        if self.host != socket.gethostname()[:HOST_LENGTH] or self.pid == os.getpid():
            return False
        return not pid_alive(self.pid)

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists. Signal 0 only checks (POSIX); on Windows os.kill
    would terminate the process, so there the answer is "alive" and the heartbeat decides."""
    if os.name != "posix" or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists but belongs to another user
        return True
    return True


class Heartbeat:
    """Calls `beat` every `interval` seconds in a daemon thread until stopped.

    A failed beat (a database busy for a moment) is retried at the next one; only STALE_SECONDS
    of failures in a row would let another process take the work over."""

    def __init__(self, beat: Callable[[], Any], *, interval: float = HEARTBEAT_SECONDS) -> None:
        self.beat, self.interval = beat, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tradebot-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - see the class docstring
                continue


@dataclass(frozen=True)
class Claim:
    """A row of `tradebot_blocks`: a block, who holds it, and when they last beat."""

    block: int
    owner: str
    holder: Owner
    heartbeat: float
    done: bool

    def age(self, now: float) -> float:
        return max(0.0, now - self.heartbeat)

    def abandoned(self, now: float, *, stale: float) -> bool:
        return not self.done and (self.age(now) > stale or self.holder.gone())

    def describe(self, now: float) -> str:
        return f"block {self.block} claimed by {self.holder.describe()} (heartbeat {self.age(now):.0f} s ago)"


class Claims:
    """Atomic claims on blocks of a sweep's candidates (see the module docstring)."""

    def __init__(self, storage: optuna.storages.RDBStorage, study: str, *,
                 heartbeat: float = HEARTBEAT_SECONDS, stale: float = STALE_SECONDS,
                 me: Owner | None = None) -> None:
        self.engine = storage.engine
        self.study, self.stale = study, stale
        self.me = me or Owner.me()
        self.owner = uuid.uuid4().hex
        self.table = sa.Table("tradebot_blocks", sa.MetaData(),
                              sa.Column("study", sa.String(512), primary_key=True),
                              sa.Column("block", sa.Integer, primary_key=True, autoincrement=False),
                              sa.Column("owner", sa.String(32), nullable=False),
                              sa.Column("host", sa.String(HOST_LENGTH), nullable=False),
                              sa.Column("pid", sa.Integer, nullable=False),
                              sa.Column("heartbeat", sa.Float, nullable=False),
                              sa.Column("done", sa.Boolean, nullable=False))
        self._create_table()
        self._heartbeat = Heartbeat(self.beat, interval=heartbeat)

    def _create_table(self) -> None:
        for attempt in range(RETRIES):
            try:
                self.table.metadata.create_all(self.engine, checkfirst=True)
                return
            except (sa_exc.OperationalError, sa_exc.IntegrityError):  # another process at the same moment
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.2)

    def __enter__(self) -> Claims:
        self._heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._heartbeat.stop()

    def claim(self, block: int) -> bool:
        """Whether this process now owns `block` (new, or taken over from an owner that is gone)."""
        mine = {"owner": self.owner, "host": self.me.host, "pid": self.me.pid, "heartbeat": time.time()}
        try:
            with self.engine.begin() as conn:
                conn.execute(self.table.insert().values(study=self.study, block=block, done=False, **mine))
            return True
        except sa_exc.IntegrityError:
            pass
        held = self._rows(block)
        if not held or not held[0].abandoned(time.time(), stale=self.stale):
            return False
        t = self.table.c
        with self.engine.begin() as conn:  # only if nobody took it over meanwhile: same old owner
            taken = conn.execute(self.table.update()
                                 .where(t.study == self.study, t.block == block, t.done.is_(False),
                                        t.owner == held[0].owner)
                                 .values(**mine))
        return taken.rowcount == 1

    def settled(self) -> tuple[set[int], dict[int, Claim]]:
        """(blocks finished, blocks held by a live owner other than this run, with their claims)."""
        now = time.time()
        rows = self._rows()
        live = {c.block: c for c in rows
                if not c.done and c.owner != self.owner and not c.abandoned(now, stale=self.stale)}
        return {c.block for c in rows if c.done}, live

    def beat(self) -> None:
        """Renew the heartbeat of every unfinished block this run holds."""
        t = self.table.c
        with self.engine.begin() as conn:
            conn.execute(self.table.update().where(t.study == self.study, t.owner == self.owner,
                                                   t.done.is_(False)).values(heartbeat=time.time()))

    def finish(self, block: int) -> None:
        t = self.table.c
        with self.engine.begin() as conn:
            conn.execute(self.table.update().where(t.study == self.study, t.block == block,
                                                   t.owner == self.owner).values(done=True))

    def release(self, blocks: Iterable[int]) -> None:
        """Give back unfinished blocks (on Ctrl-C), so a later run or another worker takes them."""
        t = self.table.c
        with self.engine.begin() as conn:
            for block in blocks:
                conn.execute(self.table.delete().where(t.study == self.study, t.block == block,
                                                       t.owner == self.owner, t.done.is_(False)))

    def _rows(self, block: int | None = None) -> list[Claim]:
        t = self.table.c
        query = sa.select(t.block, t.owner, t.host, t.pid, t.heartbeat, t.done).where(t.study == self.study)
        if block is not None:
            query = query.where(t.block == block)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Claim(b, owner, Owner(host, pid), beat, bool(done)) for b, owner, host, pid, beat, done in rows]


def waiting_message(claims: list[Claim], *, now: float, shown: int = 3) -> str:
    """What a worker that has run out of blocks is waiting for."""
    first = "; ".join(c.describe(now) for c in claims[:shown])
    more = f"; and {len(claims) - shown} more" if len(claims) > shown else ""
    return f"waiting for {first}{more}"
