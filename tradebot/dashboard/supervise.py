"""The parent every dashboard job runs under: `python -m tradebot.dashboard.supervise JOBDIR`.

It starts the command written in JOBDIR/job.json (an argument list, no shell) with its output in
JOBDIR/log.txt, and writes JOBDIR/exit.json when the command ends, however it ends. Because the
dashboard is not the job's parent, a dashboard restarted in between still learns the exit code.

Stopping: the supervisor leads its own process group (a new session on POSIX, a new process group
on Windows), so the dashboard signals the group and the command gets what Ctrl-C would send it
(SIGINT; CTRL_BREAK_EVENT on Windows, which tradebot treats as Ctrl-C). The supervisor itself
swallows that signal and waits for the command to finish cleanly. Only the standard library is
imported: this process lives as long as the job.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

JOB_FILE, LOG_FILE, EXIT_FILE, CHILD_FILE = "job.json", "log.txt", "exit.json", "child.pid"


def write_json(path: Path, value: dict) -> None:
    """Write whole or not at all: readers never see half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    os.replace(tmp, path)


def _swallow(signum, frame) -> None:
    # A Python handler, not SIG_IGN: an ignored SIGINT would be inherited by the command, which then
    # could not be interrupted; a handler resets to the default in the child.
    pass


def supervise(folder: Path) -> int:
    job = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
    signal.signal(signal.SIGINT, _swallow)
    if hasattr(signal, "SIGBREAK"):
        signal.signal(signal.SIGBREAK, _swallow)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
    with open(folder / LOG_FILE, "ab") as log:
        try:
            child = subprocess.Popen(job["argv"], cwd=job["cwd"], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        except OSError as exc:
            log.write(f"cannot start {job['argv'][0]}: {exc}\n".encode())
            write_json(folder / EXIT_FILE, {"code": 127, "ended": time.time()})
            return 127
        (folder / CHILD_FILE).write_text(str(child.pid), encoding="utf-8")
        while True:
            try:
                code = child.wait()
                break
            except InterruptedError:  # pragma: no cover - wait() retries on EINTR itself
                continue
    write_json(folder / EXIT_FILE, {"code": code, "ended": time.time()})
    return 0


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1])))
