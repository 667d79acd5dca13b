"""Server-rendered pages: plain HTML with every value escaped, one stylesheet, one small script
(assets/dashboard.js: live updates over server-sent events) and, where a chart is drawn, the
report's vendored ECharts. No build step, no external request."""
from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path
from typing import Iterable, Sequence

from ..charts import html_document
from ..live.outputs import read_equity, read_result, read_trades
from ..textkit import format_duration
from .jobs import Job, Usage
from .paths import shown
from .security import CSRF_FIELD
from .views import SeriesRow, StudyRow

NAV = (("/data", "Data"), ("/strategies", "Strategies"), ("/sweeps", "Sweeps"), ("/paper", "Paper"),
       ("/system", "System"))
# The journal fields the session page shows as they arrive (docs/dashboard.md, "Paper sessions").
SESSION_NOW = (("position", "position"), ("open_pnl", "open P&L"), ("equity", "equity"))
INTERVAL_CHOICES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w")

HEAD = """<meta name="csrf" content="{csrf}">
<link rel="stylesheet" href="/assets/dashboard.css">
{charts}"""

BODY = """<header><span class="brand">tradebot</span><nav>{nav}</nav><span class="where">{where}</span></header>
<main>
<h1>{title}</h1>
{body}
</main>
<script src="/assets/dashboard.js"></script>"""


class Renderer:
    """Pages for one dashboard: knows the CSRF token and the project folder they name files by."""

    def __init__(self, *, csrf: str, project: Path) -> None:
        self.csrf, self.project = csrf, project

    def page(self, name: str, title: str, body: str, *, charts: bool = False) -> str:
        nav = "".join(f'<a href="{href}"{" class=on" if href == "/" + name else ""}>{label}</a>'
                      for href, label in NAV)
        head = HEAD.format(csrf=self.csrf, charts='<script src="/assets/echarts.js"></script>' if charts else "")
        return html_document(f"{title} · tradebot", head=head, attributes=f' data-page="{escape(name)}"',
                             body=BODY.format(nav=nav, where=escape(str(self.project)), title=escape(title),
                                              body=body))

    def form(self, action: str, fields: str, button: str, *, cls: str = "") -> str:
        return (f'<form method="post" action="{escape(action)}" class="{cls}">'
                f'<input type="hidden" name="{CSRF_FIELD}" value="{self.csrf}">{fields}'
                f'<button type="submit">{escape(button)}</button></form>')

    def error(self, title: str, message: str) -> str:
        return self.page("error", title, f'<pre class="problem">{escape(message)}</pre>'
                                          '<p><a href="javascript:history.back()">back</a></p>')

    # --- Data -------------------------------------------------------------------------------
    def data(self, series: Sequence[SeriesRow], store: Path, jobs: Sequence[Job]) -> str:
        rows = "".join(
            f"<tr><td>{escape(s.category)}</td><td>{escape(s.symbol)}</td><td>{escape(s.interval)}</td>"
            f"<td>{escape(s.first)}</td><td>{escape(s.last)}</td><td class=num>{s.rows:,}</td>"
            f"<td class=num>{_gaps(s)}</td><td>{_when(s.updated)}</td><td class=num>{_size(s.size)}</td></tr>"
            for s in series)
        table = (_table(("category", "symbol", "interval", "first candle", "last candle", "rows", "gaps",
                         "last update", "size"), rows, table_id="series")
                 if series else f'<p class="note">No series in the store {escape(str(store))} yet: fetch one.</p>')
        series_fields = (_select("interval", INTERVAL_CHOICES, "1h")
                         + _select("category", ("linear", "spot", "inverse"), "linear"))
        fetch = self.form("/jobs/fetch", _input("symbols", "BTCUSDT ETHUSDT") + series_fields
                          + _input("since", "30d") + _input("until", "now (empty)", required=False),
                          "Fetch", cls="start")
        stream = self.form("/jobs/stream", _input("symbols", "BTCUSDT") + series_fields
                           + _input("duration", "seconds (empty: until stopped)", required=False),
                           "Stream", cls="start")
        body = (f'<p class="note">Store: {escape(str(store))}</p>{table}'
                f"<h2>Fetch history</h2>{fetch}<h2>Stream live candles</h2>{stream}"
                f"<h2>Data jobs</h2>{self.job_table(jobs)}")
        return self.page("data", "Data", body)

    # --- Strategies ---------------------------------------------------------------------------
    def strategies(self, scripts: Sequence[str], jobs: Sequence[Job], check: tuple[str, int, str] | None,
                   reports: Sequence[Path] = ()) -> str:
        rows = "".join(
            f"<tr><td><code>{escape(s)}</code></td><td>"
            f"{self.form('/strategies/check', _hidden('script', s), 'Check', cls='inline')}"
            f"{self.form('/jobs/run', _hidden('script', s), 'Run', cls='inline')}</td></tr>" for s in scripts)
        table = (_table(("script", ""), rows, table_id="scripts") if scripts
                 else '<p class="note">No .tbs file in the project folder.</p>')
        checked = ""
        if check is not None:
            script, code, output = check
            verdict = "no errors" if code == 0 else f"exit code {code}"
            checked = (f'<section id="check" class="{"ok" if code == 0 else "bad"}"><h2>check {escape(script)}: '
                       f'{verdict}</h2><pre class="terminal">{escape(output) or "ok"}</pre></section>')
        listed = "".join(f'<li><a href="/files/{escape(shown(path, self.project))}" target="_blank">'
                         f"{escape(shown(path, self.project))}</a> {_when(path.stat().st_mtime)}</li>"
                         for path in reports)
        saved = f'<ul id="reports">{listed}</ul>' if reports else '<p class="note">No report yet.</p>'
        return self.page("strategies", "Strategies",
                         f"{checked}{table}<h2>Runs</h2>{self.job_table(jobs)}<h2>Reports</h2>{saved}")

    # --- Sweeps -------------------------------------------------------------------------------
    def sweeps(self, scripts: Sequence[str], studies: Sequence[StudyRow], note: str, storage: str,
               jobs: Sequence[Job]) -> str:
        fields = (_select("script", scripts, scripts[0] if scripts else "")
                  + _select("method", ("", "grid", "random", "bayes"), "")
                  + _input("trials", "as the script says", required=False)
                  + _input("jobs", "1", required=False))
        start = self.form("/jobs/optimize", fields, "Start sweep", cls="start") if scripts else ""
        rows = "".join(
            f"<tr><td>{escape(s.name)}</td><td class=num>{s.trials:,}</td><td>{escape(s.direction)}</td>"
            f"<td class=num>{'' if s.best_value is None else f'{s.best_value:.6g}'}</td>"
            f"<td><code>{escape(', '.join(f'{k}={v}' for k, v in s.best_params.items()))}</code></td></tr>"
            for s in studies)
        table = _table(("study", "trials", "direction", "best value", "best params"), rows, table_id="studies")
        body = (f"{start}<h2>Sweeps</h2>{self.job_table(jobs)}"
                f"<h2>Studies in {escape(storage)}</h2>{table if studies else ''}"
                f'{f"<p class=note>{escape(note)}</p>" if note else ""}')
        return self.page("sweeps", "Sweeps", body)

    # --- Paper --------------------------------------------------------------------------------
    def paper(self, available: bool, why: str, scripts: Sequence[str], sessions: Sequence[Path],
              jobs: Sequence[Job], sessions_root: Path) -> str:
        if available:
            # Live candles for a symbol, or a stored CSV of the project replayed as if live.
            start = self.form("/jobs/paper", _select("script", scripts, scripts[0] if scripts else "")
                              + _input("symbols", "BTCUSDT", required=False) + _select("interval", INTERVAL_CHOICES, "1m")
                              + _select("category", ("linear", "spot", "inverse"), "linear")
                              + _input("replay", "or a CSV to replay (empty: live)", required=False),
                              "Start paper session", cls="start")
        else:
            start = (f'<p id="paper-unavailable" class="problem">Paper trading is not available: {escape(why)}. '
                     "Sessions already in the sessions folder are still listed below.</p>")
        rows = "".join(f'<tr><td><a href="/paper/{escape(s.name)}">{escape(s.name)}</a></td></tr>' for s in sessions)
        listing = (_table(("session",), rows, table_id="sessions") if sessions
                   else f'<p class="note">No session in {escape(str(sessions_root))}.</p>')
        return self.page("paper", "Paper sessions", f"{start}<h2>Sessions</h2>{listing}"
                                                    f"<h2>Paper jobs</h2>{self.job_table(jobs)}")

    def session(self, folder: Path) -> str:
        equity = read_equity(folder)
        result = read_result(folder)
        trades = read_trades(folder)
        data = json.dumps({"equity": equity}).replace("</", "<\\/")
        head = "".join(f"<th>{escape(k)}</th>" for k in (trades[0] if trades else {}))
        rows = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in t.values()) + "</tr>"
                       for t in trades[-50:])
        fills = (f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>" if trades
                 else '<p class="note">No closed trade yet.</p>')
        now = "".join(f'<span>{label} <b id="now-{key}">-</b></span>' for key, label in SESSION_NOW)
        body = (f'<p class="now">{now}</p><div id="equity" class="chart"></div>'
                f'<script type="application/json" id="session-data">{data}</script>'
                f"<h2>Journal (live)</h2><pre id=\"journal\" class=\"terminal\" "
                f'data-events="/events/sessions/{escape(folder.name)}"></pre>'
                f"<h2>Trades</h2>{fills}"
                f'<h2>Result</h2><pre class="terminal">{escape(json.dumps(result, indent=1)) if result else "(running)"}</pre>')
        return self.page("session", f"Session {folder.name}", body, charts=True)

    # --- System -------------------------------------------------------------------------------
    def system(self, jobs: Sequence[tuple[Job, Usage | None]], store: Path, store_bytes: int, log: Iterable[str]) -> str:
        rows = "".join(
            f'<tr data-job="{escape(job.id)}"><td><a href="/jobs/{escape(job.id)}">{escape(job.record["title"])}</a></td>'
            f"<td>{escape(job.status)}</td><td class='num cpu'>{'' if u is None else f'{u.cpu_percent:.0f}%'}</td>"
            f"<td class='num mem'>{'' if u is None else _size(u.memory_bytes)}</td></tr>" for job, u in jobs)
        body = (_table(("job", "status", "CPU", "memory"), rows, table_id="usage")
                + '<div id="usage-chart" class="chart"></div>'
                + f'<p>Store {escape(str(store))}: <b id="store-size">{_size(store_bytes)}</b></p>'
                + f'<h2>Dashboard log</h2><pre class="terminal">{escape(chr(10).join(log))}</pre>')
        return self.page("system", "System", body, charts=True)

    # --- Jobs ---------------------------------------------------------------------------------
    def job_table(self, jobs: Sequence[Job]) -> str:
        if not jobs:
            return '<p class="note">None yet.</p>'
        rows = "".join(
            f'<tr><td><a href="/jobs/{escape(j.id)}">{escape(j.record["title"])}</a></td>'
            f'<td class="status {escape(j.status)}">{escape(j.status)}</td><td>{_when(j.record["created"])}</td>'
            f"<td>{self.report_link(j)}</td></tr>" for j in jobs)
        return _table(("job", "status", "started", "report"), rows, cls="jobs")

    def report_link(self, job: Job) -> str:
        if job.report and job.report.is_file():
            return f'<a class="report" href="/files/{escape(shown(job.report, self.project))}" target="_blank">report</a>'
        return ""

    def job(self, job: Job) -> str:
        summary = job.summary()
        stop = "" if not job.running else (
            self.form(f"/jobs/{job.id}/stop", "", "Stop", cls="inline stop")
            + self.form(f"/jobs/{job.id}/stop", _hidden("force", "1"), "Kill", cls="inline stop"))
        command = " ".join(["tradebot", *job.record["args"]])
        size = job.log.stat().st_size if job.log.exists() else 0  # the live log goes on from here
        body = (f'<p><code>{escape(command)}</code></p>'
                f'<p>Status: <b id="status" class="status {escape(job.status)}">{escape(_status_text(summary))}</b> '
                f'<span id="report">{self.report_link(job)}</span></p>'
                f'<div class="progress"><div id="bar" style="width:{(summary["progress"] or {}).get("percent") or 0}%"></div></div>'
                f'<p id="best">{escape((summary["progress"] or {}).get("best", ""))}</p>{stop}'
                f'<pre id="log" class="terminal" data-events="/events/jobs/{escape(job.id)}?from={size}">'
                f'{escape(chr(10).join(job.tail(200)))}</pre>')
        return self.page("job", job.record["title"], body)


def _status_text(summary: dict) -> str:
    code = summary["exit_code"]
    return summary["status"] + ("" if code is None else f" (exit code {code})")


def _table(headers: Sequence[str], rows: str, *, table_id: str = "", cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f'<table id="{table_id}" class="{cls}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _input(name: str, placeholder: str, *, required: bool = True) -> str:
    return (f'<label>{escape(name)} <input name="{escape(name)}" placeholder="{escape(placeholder)}"'
            f'{" required" if required else ""}></label>')


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def _select(name: str, choices: Sequence[str], selected: str) -> str:
    options = "".join(f'<option{" selected" if c == selected else ""} value="{escape(c)}">{escape(c) or "(default)"}</option>'
                      for c in choices)
    return f'<label>{escape(name)} <select name="{escape(name)}">{options}</select></label>'


def _gaps(row: SeriesRow) -> str:
    if row.gaps is None:
        return f'<span class="bad" title="{escape(row.problem)}">unreadable</span>'
    return f'<span class="{"bad" if row.gaps else "ok"}">{row.gaps}</span>'


def _when(epoch: float) -> str:
    ago = time.time() - epoch
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))
    return f'<span title="{stamp} UTC">{format_duration(max(0.0, ago))} ago</span>'


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""

