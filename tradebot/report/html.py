"""A page as one self-contained HTML file: the model as embedded JSON, the vendored ECharts and
the page's own script and stylesheet inlined. Nothing is fetched: no CDN, no font, no image URL,
so the file opens by double-click, offline, on any system.
"""
from __future__ import annotations

import json
from html import escape
from pathlib import Path

from ..charts import ECHARTS_VERSION, asset_text, echarts_js, html_document
from ..runtime.report import json_safe
from .model import BacktestPage, PortfolioPage, SweepPage

Page = BacktestPage | PortfolioPage | SweepPage

MODEL_ID = "tradebot-model"

HEAD = """<meta name="generator" content="tradebot report, echarts {version}">
<style>{css}</style>"""

BODY = """<header><h1>{title}</h1><nav id="tabs"></nav></header>
<main id="pages"><p id="loading">Loading…</p></main>
<script type="application/json" id="{model_id}">{model}</script>
<script>{echarts}</script>
<script>{data_script}</script>
<script>{script}</script>"""


def model_json(page: Page) -> str:
    """The embedded document (strict JSON: non-finite floats are null)."""
    return json.dumps(json_safe(page.to_json()), allow_nan=False, separators=(",", ":"))


def render(page: Page) -> str:
    # "</" inside a <script> block would end it early: JSON allows the escaped form "<\\/".
    model = model_json(page).replace("</", "<\\/")
    head = HEAD.format(version=ECHARTS_VERSION, css=asset_text("report.css"))
    body = BODY.format(title=escape(page.title), model_id=MODEL_ID, model=model, echarts=echarts_js(),
                       data_script=asset_text("data.js"), script=asset_text("report.js"))
    return html_document(page.title, head=head, body=body)


def write_report(page: Page, path: Path) -> Path:
    """Write the page to `path` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(page), encoding="utf-8")
    return path
