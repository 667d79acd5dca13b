"""The dashboard's aiohttp application: pages, a JSON API, server-sent events, the job registry.

Every route goes through `security.Guard`. Jobs are started only through `kinds.build` (the
allow-list) and files are read only through `paths.inside` (the allowed roots).
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import web

from ..charts import echarts_js
from ..errors import UserError
from ..live.journal import journal_in
from . import views
from .jobs import Job, Registry, new_job_id, read_tail
from .kinds import JobInputError, build
from .pages import Renderer
from .paths import OutsideError, inside, shown
from .security import Guard
from .settings import DashboardSettings

log = logging.getLogger("tradebot.dashboard")
ASSETS = Path(__file__).parent / "assets"
SERVED_SUFFIXES = (".html", ".csv", ".json", ".jsonl", ".tbs", ".txt", ".png", ".svg")
KIND_PAGES = {"fetch": "/data", "stream": "/data", "run": "/strategies", "optimize": "/sweeps", "paper": "/paper"}
POLL_SECONDS = 0.4
CHECK_TIMEOUT = 120

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Dashboard:
    """The state of one running dashboard, shared by its handlers."""

    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings
        self.guard = Guard(host=settings.host, port=settings.port, token=settings.token)
        self.registry = Registry(settings.jobs, cwd=settings.project)
        self.render = Renderer(csrf=self.guard.csrf, project=settings.project)
        self.log_file = settings.state / "dashboard.log"
        self.closing = asyncio.Event()
        self._paper: tuple[bool, str] | None = None

    # --- helpers ------------------------------------------------------------------------------
    def jobs_of(self, *kinds: str) -> list[Job]:
        return [job for job in self.registry.all() if job.kind in kinds]

    def summary(self, job: Job) -> dict:
        summary = job.summary()
        summary["report_url"] = f"/files/{shown(job.report, self.settings.project)}" if summary["report_ready"] else None
        summary["tail"] = job.tail(20)
        return summary

    def job_or_404(self, request: web.Request) -> Job:
        job = self.registry.get(request.match_info["job"])
        if job is None:
            raise web.HTTPNotFound(text=f"no job '{request.match_info['job']}'\n")
        return job

    async def paper_available(self) -> tuple[bool, str]:
        """Whether this installation has `tradebot paper`, asked of the command itself (once)."""
        if self._paper is None:
            code, output = await self.tradebot("paper", "--help", timeout=60)
            self._paper = (True, "") if code == 0 else (
                False, "this version of tradebot has no `tradebot paper` command")
        return self._paper

    async def tradebot(self, *args: str, timeout: float) -> tuple[int, str]:
        """Run a short CLI command (an argument list, no shell) and return its exit code and output."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tradebot", *args, cwd=self.settings.project, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            return 124, f"no answer within {timeout:.0f}s"
        return process.returncode or 0, output.decode("utf-8", errors="replace")

    def start(self, kind: str, form: Mapping[str, str]) -> Job:
        job_id = new_job_id()
        spec = build(kind, form, self.settings, job_id)
        job = self.registry.start(job_id, spec)
        log.info("started %s: tradebot %s", job.id, " ".join(spec.args))
        return job


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=lambda v: json.dumps(v, default=str))


async def _form(request: web.Request) -> dict[str, str]:
    """The request's fields: a JSON object or a form, every value as text."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise JobInputError("the body is not JSON") from None
        if not isinstance(body, dict):
            raise JobInputError("the body must be a JSON object")
        return {str(k): "" if v is None else str(v) for k, v in body.items()}
    return {k: str(v) for k, v in (await request.post()).items()}


def routes(app: web.Application, dash: Dashboard) -> None:
    s = dash.settings

    async def index(request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/data")

    async def data_page(request: web.Request) -> web.Response:
        series = await asyncio.to_thread(views.store_series, s.store)
        return _html(dash.render.data(series, s.store, dash.jobs_of("fetch", "stream")))

    async def strategies_page(request: web.Request) -> web.Response:
        return _html(dash.render.strategies(views.scripts(s.project), dash.jobs_of("run"), None,
                                            views.reports(s.reports)))

    async def check(request: web.Request) -> web.Response:
        try:
            script = inside((s.project,), (await _form(request)).get("script", ""), base=s.project, suffixes=(".tbs",))
        except UserError as err:
            return _problem(request, err, dash.render)
        name = shown(script, s.project)
        code, output = await dash.tradebot("check", name, timeout=CHECK_TIMEOUT)
        if request.path.startswith("/api/"):
            return _json({"script": name, "exit_code": code, "output": output})
        return _html(dash.render.strategies(views.scripts(s.project), dash.jobs_of("run"), (name, code, output),
                                            views.reports(s.reports)))

    async def sweeps_page(request: web.Request) -> web.Response:
        studies, note = await asyncio.to_thread(_studies, s)
        return _html(dash.render.sweeps(views.scripts(s.project), studies, note, s.storage, dash.jobs_of("optimize")))

    async def paper_page(request: web.Request) -> web.Response:
        available, why = await dash.paper_available()
        return _html(dash.render.paper(available, why, views.scripts(s.project), views.sessions(s.sessions),
                                       dash.jobs_of("paper"), s.sessions))

    async def session_page(request: web.Request) -> web.Response:
        return _html(dash.render.session(_session(s, request.match_info["name"])))

    async def system_page(request: web.Request) -> web.Response:
        jobs = [(job, dash.registry.usage(job)) for job in dash.registry.all()]
        size = await asyncio.to_thread(views.folder_size, s.store)
        return _html(dash.render.system(jobs, s.store, size, read_tail(dash.log_file, 100)))

    async def job_page(request: web.Request) -> web.Response:
        return _html(dash.render.job(dash.job_or_404(request)))

    async def start_job(request: web.Request) -> web.Response:
        kind = request.match_info.get("kind", "")
        try:
            form = await _form(request)
            kind = kind or form.pop("kind", "")
            if kind == "paper" and not (await dash.paper_available())[0]:
                raise JobInputError(f"paper: {(await dash.paper_available())[1]}")
            job = dash.start(kind, form)
        except UserError as err:
            return _problem(request, err, dash.render)
        if request.path.startswith("/api/"):
            return _json(dash.summary(job), status=201)
        raise web.HTTPSeeOther(f"/jobs/{job.id}")

    async def stop_job(request: web.Request) -> web.Response:
        job = dash.job_or_404(request)
        force = (await _form(request)).get("force", "") in ("1", "true")
        dash.registry.stop(job, force=force)
        log.info("%s %s", "killed" if force else "stop asked of", job.id)
        if request.path.startswith("/api/"):
            return _json(dash.summary(dash.registry.get(job.id)), status=202)
        raise web.HTTPSeeOther(f"/jobs/{job.id}")

    async def api_jobs(request: web.Request) -> web.Response:
        return _json([dash.summary(job) for job in dash.registry.all()])

    async def api_job(request: web.Request) -> web.Response:
        return _json(dash.summary(dash.job_or_404(request)))

    async def api_series(request: web.Request) -> web.Response:
        series = await asyncio.to_thread(views.store_series, s.store)
        return _json([{**row.__dict__, "path": shown(row.path, s.project)} for row in series])

    async def api_scripts(request: web.Request) -> web.Response:
        return _json(views.scripts(s.project))

    async def api_studies(request: web.Request) -> web.Response:
        studies, note = await asyncio.to_thread(_studies, s)
        return _json({"storage": s.storage, "note": note, "studies": [row.__dict__ for row in studies]})

    async def api_sessions(request: web.Request) -> web.Response:
        available, why = await dash.paper_available()
        return _json({"paper_available": available, "why": why,
                      "sessions": [folder.name for folder in views.sessions(s.sessions)]})

    async def api_system(request: web.Request) -> web.Response:
        return _json(await asyncio.to_thread(_system, dash))

    async def file(request: web.Request) -> web.StreamResponse:
        try:
            path = inside(s.roots, request.match_info["path"], base=s.project, suffixes=SERVED_SUFFIXES)
        except OutsideError as err:
            raise web.HTTPNotFound(text=err.render() + "\n") from None
        return web.FileResponse(path)

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "echarts.js":
            return web.Response(text=echarts_js(), content_type="application/javascript")
        if name not in ("dashboard.css", "dashboard.js"):
            raise web.HTTPNotFound()
        kind = "text/css" if name.endswith(".css") else "application/javascript"
        return web.Response(text=(ASSETS / name).read_text(encoding="utf-8"), content_type=kind)

    async def job_events(request: web.Request) -> web.StreamResponse:
        job = dash.job_or_404(request)
        offset = _offset(request)
        response = await _event_stream(request)
        while not dash.closing.is_set():
            job = dash.registry.get(job.id) or job
            finished = not job.running
            lines, offset = _new_lines(job.log, offset)
            if lines:
                await _send(response, "log", "\n".join(lines))
            await _send(response, "status", json.dumps(dash.summary(job), default=str))
            if finished:
                await _send(response, "end", job.status)
                break
            await asyncio.sleep(POLL_SECONDS)
        return response

    async def system_events(request: web.Request) -> web.StreamResponse:
        response = await _event_stream(request)
        while not dash.closing.is_set():
            await _send(response, "usage", json.dumps(await asyncio.to_thread(_system, dash, store_size=False)))
            await asyncio.sleep(1.0)
        return response

    async def session_events(request: web.Request) -> web.StreamResponse:
        journal = journal_in(_session(s, request.match_info["name"]))
        offset = _offset(request)
        response = await _event_stream(request)
        while not dash.closing.is_set():
            events, offset = views.journal_events(journal, offset)
            for event in events:
                await _send(response, "journal", json.dumps(event))
            await asyncio.sleep(POLL_SECONDS)
        return response

    app.router.add_get("/", index)
    for path, handler in (("/data", data_page), ("/strategies", strategies_page), ("/sweeps", sweeps_page),
                          ("/paper", paper_page), ("/paper/{name}", session_page), ("/system", system_page),
                          ("/jobs/{job}", job_page), ("/api/jobs", api_jobs), ("/api/jobs/{job}", api_job),
                          ("/api/series", api_series), ("/api/scripts", api_scripts), ("/api/studies", api_studies),
                          ("/api/sessions", api_sessions), ("/api/system", api_system),
                          ("/files/{path:.+}", file), ("/assets/{name}", asset),
                          ("/events/jobs/{job}", pushed(job_events)), ("/events/system", pushed(system_events)),
                          ("/events/sessions/{name}", pushed(session_events))):
        app.router.add_get(path, handler)
    for path, handler in (("/jobs/{kind}", start_job), ("/api/jobs", start_job), ("/jobs/{job}/stop", stop_job),
                          ("/api/jobs/{job}/stop", stop_job), ("/strategies/check", check),
                          ("/api/check", check)):
        app.router.add_post(path, handler)


def _problem(request: web.Request, err: UserError, render: Renderer) -> web.Response:
    status = 404 if isinstance(err, OutsideError) and "no such file" in err.render() else 400
    if request.path.startswith("/api/"):
        return _json({"error": err.render()}, status=status)
    return _html(render.error("Refused", err.render()), status=status)


def _studies(settings: DashboardSettings):
    try:
        return views.studies(settings.storage)
    except UserError as err:
        return [], err.render()


def _session(settings: DashboardSettings, name: str) -> Path:
    """The folder of the session named in the address (404 unless it is one, in the sessions folder)."""
    folder = settings.sessions / name
    if "/" in name or "\\" in name or name.startswith(".") or not journal_in(folder).is_file():
        raise web.HTTPNotFound(text=f"no session '{name}'\n")
    return folder


def _system(dash: Dashboard, *, store_size: bool = True) -> dict:
    jobs = []
    for job in dash.registry.all():
        usage = dash.registry.usage(job)
        jobs.append({"id": job.id, "title": job.record["title"], "status": job.status,
                     "cpu_percent": None if usage is None else usage.cpu_percent,
                     "memory_bytes": None if usage is None else usage.memory_bytes})
    result: dict = {"jobs": jobs}
    if store_size:
        result["store_bytes"] = views.folder_size(dash.settings.store)
    return result


def _offset(request: web.Request) -> int:
    text = request.headers.get("Last-Event-ID") or request.query.get("from", "0")
    return int(text) if text.isdigit() else 0


def _new_lines(path: Path, offset: int) -> tuple[list[str], int]:
    text, offset = views.appended(path, offset)
    return [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line], offset


async def _event_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    return response


async def _send(response: web.StreamResponse, event: str, data: str) -> None:
    payload = "".join(f"data: {line}\n" for line in data.split("\n"))
    await response.write(f"event: {event}\n{payload}\n".encode("utf-8"))


def pushed(stream: Handler) -> Handler:
    """An event stream whose reader went away (a closed tab) just ends."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await stream(request)
        except ConnectionResetError:
            return web.Response(status=204)

    return handler


DASHBOARD: web.AppKey[Dashboard] = web.AppKey("dashboard", Dashboard)


def make_app(settings: DashboardSettings) -> web.Application:
    dash = Dashboard(settings)
    settings.state.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(dash.log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    app = web.Application(middlewares=[dash.guard.middleware])
    app[DASHBOARD] = dash
    routes(app, dash)

    async def closing(app: web.Application) -> None:
        dash.closing.set()  # the event streams end; jobs keep running (a restart reattaches)
        log.removeHandler(handler)
        handler.close()

    app.on_shutdown.append(closing)
    return app
