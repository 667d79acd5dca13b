"""Drawing helpers for self-contained HTML pages: the vendored chart library (ECharts), the page's
own scripts (assets/data.js: decoding and per-pixel buckets; assets/report.js: the drawing) and
stylesheet, compact encodings of numeric arrays for embedding, and the HTML document shell
(page.py) that the saved report and the dashboard's pages share.

Imports nothing from tradebot: it takes plain arrays and dicts, so any page (a backtest, a sweep,
later a portfolio or a paper session) can draw through it.

Why ECharts, vendored: measured in headless Chromium without GPU on 1 M bars it was the fastest
full-featured library (line 2.9 s, candles 4.6 s; lightweight-charts 10 s and 1 GB heap, Bokeh
~22 s, Plotly 26 s / 68 s), it alone has candles, heatmaps, parallel coordinates and linked zoom
built in, and it is Apache-2.0 without an attribution clause. It ships inside the package (pinned
version, checked SHA-256) so a report never fetches anything and never breaks on a plotting
package's upgrade.
"""
from __future__ import annotations

from .encode import encode_array, encode_times
from .page import html_document
from .vendor import ECHARTS_SHA256, ECHARTS_VERSION, asset_text, echarts_js

__all__ = ["ECHARTS_SHA256", "ECHARTS_VERSION", "asset_text", "echarts_js", "encode_array", "encode_times",
           "html_document"]
