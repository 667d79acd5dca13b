"""The session journal: one JSON document per line, appended and fsync'ed record by record.

A record is durable once `append` returns. A crash can only tear the record being written, so on
opening, a last line without its newline (or that does not parse) is cut off: everything before it
was complete. Nothing is ever rewritten in place.

Record kinds (the "kind" field):
    header    the session's identity: script text hash, symbol, interval, settings, warm-up
    bars      the warm-up bars, as [start_ms, open, high, low, close, volume] rows (floats
              exact: JSON numbers written with repr, which round-trips every float)
    warm      the first live bar's index and the kernel's snapshot after the warm-up
    step      one live bar: its index and row, the signals and risk levels fed to the kernel,
              the trades it closed, equity and position after it, the orders standing, every N
              bars the kernel's snapshot (Stepper.snapshot, counting the closed trades rather
              than repeating them: each is in the record of its bar), and "window" when the first bar
              held moved or the horizon grew (window.py)
    cancel    an order withdrawn after bar "after" (Broker.cancel): its id, the request it
              came from, and whether it still stood ("done")
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Iterator

JOURNAL_NAME = "journal.jsonl"


def journal_in(folder: Path | str) -> Path:
    """The journal of the paper session kept in `folder` (the one place its name is joined)."""
    return Path(folder) / JOURNAL_NAME


class JournalError(Exception):
    """A journal line in the middle of the file is not a record (not a torn tail)."""


class Journal:
    """Append-only JSON lines at `path` (created with its folder when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.cut = cut_torn_tail(self.path)
        self._handle = open(self.path, "ab")

    def append(self, record: dict[str, Any], *, durable: bool = True) -> None:
        self._handle.write(dumps(record))
        self._handle.flush()
        if durable:
            sync(self._handle)

    def sync(self) -> None:
        sync(self._handle)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sync(handle: IO[bytes]) -> None:
    """What was written to `handle` on the disk (os.fsync exists on POSIX and Windows)."""
    handle.flush()
    os.fsync(handle.fileno())


def dumps(record: dict[str, Any]) -> bytes:
    # allow_nan: a NaN risk level (none set) is a value the kernel reads; JSON's NaN token keeps it.
    return (json.dumps(record, separators=(",", ":"), allow_nan=True) + "\n").encode("utf-8")


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete record of the journal at `path`, in order (a torn last line is skipped)."""
    with open(path, "rb") as handle:
        lines = handle.read().split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):  # the part after the last newline is torn
        try:
            yield json.loads(line)
        except ValueError:
            raise JournalError(f"{path}:{number}: not a journal record") from None


def cut_torn_tail(path: Path) -> int:
    """Cut a last line that was not completely written; the number of bytes cut."""
    if not path.exists():
        return 0
    with open(path, "rb+") as handle:
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
        return len(data) - keep
