"""Supervised jobs and their registry on disk.

Each job is a folder under the jobs folder: job.json (id, kind, title, argument list, supervisor
pid and its start time), log.txt (the command's output), child.pid, exit.json once it ended, and
stop.json once a stop was asked. The folder is the whole truth: a dashboard restarted while jobs
run reads it again and reattaches; a job whose supervisor vanished without an exit.json is shown as
lost, with its last log lines.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from .kinds import JobSpec
from .supervise import EXIT_FILE, JOB_FILE, LOG_FILE, write_json

JOB_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}$")
STOP_FILE = "stop.json"
TAIL_BYTES = 16_384
INTERRUPTED = (130, -signal.SIGINT, 0xC000013A)  # Ctrl-C exit codes: tradebot's, a signal, Windows'
# The progress lines the commands print when their output is not a terminal.
FETCH_PROGRESS = re.compile(r"\]\s*(\d+)%\s+(\d+)/(\d+) windows")
SWEEP_PROGRESS = re.compile(r"([\d,]+)(?:/([\d,]+))? trials \| best (\S+) (\S+)")


@dataclass(frozen=True)
class Usage:
    cpu_percent: float
    memory_bytes: int


@dataclass(frozen=True)
class Job:
    """One job as its folder says it is now."""

    folder: Path
    record: dict
    exit: dict | None
    stop: dict | None  # stop.json: when a stop was asked, and whether it was a kill
    alive: bool

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def kind(self) -> str:
        return self.record["kind"]

    @property
    def log(self) -> Path:
        return self.folder / LOG_FILE

    @property
    def report(self) -> Path | None:
        path = self.record.get("report")
        return Path(path) if path else None

    @property
    def exit_code(self) -> int | None:
        return None if self.exit is None else int(self.exit["code"])

    @property
    def status(self) -> str:
        """running, stopping, finished, stopped, killed, failed, or lost (ended without a word)."""
        if self.exit is not None:
            code = self.exit_code
            if code in INTERRUPTED or (code == 0 and self.stop is not None):  # a stream ends 0 on Ctrl-C
                return "stopped"
            if code != 0 and self.stop is not None and self.stop.get("force"):
                return "killed"
            return "finished" if code == 0 else "failed"
        if self.alive:
            return "stopping" if self.stop is not None else "running"
        return "lost"

    @property
    def running(self) -> bool:
        return self.status in ("running", "stopping")

    def tail(self, lines: int = 20) -> list[str]:
        return read_tail(self.log, lines)

    def progress(self) -> dict | None:
        """The last progress line of the log, read: share done, and the best so far of a sweep."""
        for line in reversed(self.tail(60)):
            if match := FETCH_PROGRESS.search(line):
                return {"percent": int(match.group(1)), "text": line}
            if match := SWEEP_PROGRESS.search(line):
                done, total = (int(g.replace(",", "")) if g else None for g in match.group(1, 2))
                percent = round(100 * done / total) if total else None
                return {"percent": percent, "best": f"{match.group(3)} {match.group(4)}", "text": line}
        return None

    def summary(self) -> dict:
        """The job as the JSON API and the pages' live updates give it."""
        return {"id": self.id, "kind": self.kind, "title": self.record["title"], "status": self.status,
                "exit_code": self.exit_code, "created": self.record["created"],
                "ended": None if self.exit is None else self.exit.get("ended"),
                "argv": self.record["args"], "report": self.record.get("report"),
                "report_ready": bool(self.report and self.report.is_file()),
                "progress": self.progress()}


def read_tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return [line for line in text.split("\n") if line][-lines:]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def new_job_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


class Registry:
    """The jobs folder: start, list, stop; CPU and memory of the running ones."""

    def __init__(self, folder: Path, *, cwd: Path) -> None:
        self.folder, self.cwd = folder, cwd
        self.folder.mkdir(parents=True, exist_ok=True)
        self._children: dict[str, subprocess.Popen] = {}  # the supervisors this dashboard started
        self._processes: dict[int, psutil.Process] = {}  # kept so cpu_percent measures between calls

    def start(self, job_id: str, spec: JobSpec) -> Job:
        folder = self.folder / job_id
        folder.mkdir()
        argv = [sys.executable, "-m", "tradebot", *spec.args]
        record = {"id": job_id, "kind": spec.kind, "title": spec.title, "args": list(spec.args), "argv": argv,
                  "cwd": str(self.cwd), "created": time.time(),
                  "report": str(spec.report) if spec.report else None,
                  "session": str(spec.session) if spec.session else None}
        write_json(folder / JOB_FILE, record)
        with open(folder / LOG_FILE, "ab") as log:  # the supervisor's own complaints, if any
            supervisor = subprocess.Popen([sys.executable, "-m", "tradebot.dashboard.supervise", str(folder)],
                                          cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=log, **_new_group())
        self._children[job_id] = supervisor
        record.update(pid=supervisor.pid, pid_started=_started(supervisor.pid))
        write_json(folder / JOB_FILE, record)
        return self.get(job_id)

    def get(self, job_id: str) -> Job | None:
        if not JOB_ID.match(job_id):
            return None
        folder = self.folder / job_id
        record = _read_json(folder / JOB_FILE)
        if record is None:
            return None
        child = self._children.get(job_id)
        if child is not None and child.poll() is not None:  # reap our own supervisor: no zombie
            del self._children[job_id]
        return Job(folder, record, _read_json(folder / EXIT_FILE), _read_json(folder / STOP_FILE),
                   self._supervisor_alive(record))

    def all(self) -> list[Job]:
        jobs = (self.get(path.name) for path in self.folder.iterdir() if path.is_dir())
        return sorted((job for job in jobs if job is not None), key=lambda job: job.record["created"],
                      reverse=True)

    def stop(self, job: Job, *, force: bool = False) -> None:
        """Ask the job to stop as Ctrl-C would; `force` kills the command (the supervisor still
        records how it ended)."""
        if not job.running:
            return
        write_json(job.folder / STOP_FILE, {"asked": time.time(), "force": force})
        pid = int(job.record["pid"])
        try:
            if force:
                for process in self._job_processes(job):
                    if process.pid != pid:
                        process.kill()
            elif sys.platform == "win32":
                os.kill(pid, signal.CTRL_BREAK_EVENT)  # the whole process group, like Ctrl-Break
            else:
                os.killpg(pid, signal.SIGINT)  # the supervisor leads its group (start_new_session)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass

    def usage(self, job: Job) -> Usage | None:
        """CPU (percent of one core, since the last call) and resident memory of the command and
        the processes it started (a sweep's workers)."""
        if not job.running:
            return None
        cpu, memory = 0.0, 0
        for process in self._job_processes(job):
            try:
                cached = self._processes.setdefault(process.pid, process)
                cpu += cached.cpu_percent(interval=None)
                memory += cached.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return Usage(cpu, memory)

    def _job_processes(self, job: Job) -> list[psutil.Process]:
        try:
            supervisor = psutil.Process(int(job.record["pid"]))
            return [supervisor, *supervisor.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return []

    def _supervisor_alive(self, record: dict) -> bool:
        pid = record.get("pid")
        if pid is None:
            return False
        try:
            process = psutil.Process(int(pid))
            if process.status() == psutil.STATUS_ZOMBIE:
                return False
            # The same process, not a later one that got the same pid.
            return abs(process.create_time() - float(record.get("pid_started") or 0)) < 1.0
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False


def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return None


def _new_group() -> dict:
    """Popen options putting the supervisor at the head of its own process group."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}
