"""The report's data model: the golden document embedded in the page, the encodings the page
decodes, each trade's stop and target, the calendar returns and the metrics table."""
from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.golden import compare_golden
from tradebot.charts import ECHARTS_SHA256, ECHARTS_VERSION, encode_times, echarts_js, html_document
from tradebot.dashboard.pages import Renderer
from tradebot.report import render
from tradebot.report.backtest import backtest_page, calendar_returns, trade_levels
from tradebot.report.html import MODEL_ID
from tradebot.runtime.report import SUMMARY_ROWS

GOLDEN = Path(__file__).parent / "golden" / "backtest_model.json"
VENDOR = Path(__file__).parents[2] / "tradebot" / "charts" / "vendor"


def embedded_model(html: str) -> dict:
    """The JSON document the page carries, as the page's script reads it."""
    match = re.search(rf'<script type="application/json" id="{MODEL_ID}">(.*?)</script>', html, re.S)
    assert match, "no embedded model"
    return json.loads(match.group(1))


def decoded(value):
    """The model with every encoded array turned back into a list (what the page's script does),
    rounded to float32's precision so the golden file stays readable."""
    if isinstance(value, dict):
        if set(value) in ({"f32"}, {"f64"}):
            kind = "<f4" if "f32" in value else "<f8"
            array = np.frombuffer(base64.b64decode(next(iter(value.values()))), dtype=kind)
            return [None if not np.isfinite(x) else float(f"{x:.7g}") for x in array]
        return {key: decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decoded(item) for item in value]
    return value


def test_the_embedded_model_matches_the_golden_file(small_run, update_goldens: bool) -> None:
    bars, result = small_run
    page = backtest_page(result, title="Golden", bars=bars, series={"mid": (bars["high"] + bars["low"]).to_numpy() / 2,
                                                                    "wave": np.sin(np.arange(bars.height))},
                         settings={"data": "hand-made"}, params={"n": 3})
    document = decoded(embedded_model(render(page)))
    compare_golden(GOLDEN, json.dumps(document, indent=1) + "\n", update_goldens)


def test_the_page_inlines_everything_it_runs(small_run) -> None:
    bars, result = small_run
    html = render(backtest_page(result, title="</script><b>x", bars=bars))
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    assert html.count("</script>") == 4  # the model, ECharts, the page's two scripts: a title cannot end one
    assert embedded_model(html)["title"] == "</script><b>x"


def test_the_report_and_the_dashboard_share_one_document_shell(small_run, tmp_path: Path) -> None:
    bars, result = small_run
    report = render(backtest_page(result, title="P&L < 0", bars=bars))
    dashboard = Renderer(csrf="token", project=tmp_path).page("data", "P&L < 0", "<p>body</p>")
    prologue = html_document("P&L < 0", head="", body="").split("<title>")[0]
    assert report.startswith(prologue) and dashboard.startswith(prologue)
    assert "<title>P&amp;L &lt; 0</title>" in report  # escaped once, not twice
    assert "<title>P&amp;L &lt; 0 · tradebot</title>" in dashboard
    assert '<body data-page="data">' in dashboard and "<p>body</p>" in dashboard


def test_vendored_echarts_is_the_pinned_file_with_its_licence() -> None:
    data = (VENDOR / "echarts.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == ECHARTS_SHA256
    assert echarts_js().encode("utf-8") == data
    assert f'version:"{ECHARTS_VERSION}"' in data.decode("utf-8")  # echarts.version in the build
    assert "Apache License" in (VENDOR / "ECHARTS-LICENSE").read_text()
    assert "Apache Software Foundation" in (VENDOR / "ECHARTS-NOTICE").read_text()


@pytest.mark.parametrize("ms", [
    [0, 60_000, 120_000, 180_000],                             # regular
    [0, 60_000, 120_000, 500_000, 560_000, 620_000, 680_000, 740_000, 800_000, 860_000, 920_000, 980_000],
    [5, 9, 100, 101, 400, 1000],                               # irregular: float64
    [42], [],
])
def test_times_round_trip(ms: list[int]) -> None:
    encoded = json.loads(json.dumps(encode_times(np.array(ms, dtype=np.int64))))
    if "f64" in encoded:
        back = np.frombuffer(base64.b64decode(encoded["f64"]), dtype="<f8").astype(np.int64).tolist()
    else:  # the page's decoding: the step, except at the listed jumps
        jumps = dict(map(tuple, encoded["jumps"]))
        back, t = [], encoded["start"]
        for i in range(encoded["n"]):
            t += (jumps.get(i, encoded["step"]) if i else 0)
            back.append(t)
    assert back == ms


def test_stops_and_targets_are_where_the_engine_exited(small_run) -> None:
    """Independent truth: a trade closed by its target (no slippage, no gap) filled at the level."""
    _bars, result = small_run
    stops, targets, notes = trade_levels(result.trades, result.config, {})
    rows = result.trades.to_dicts()
    assert [r["exit_reason"] for r in rows] == ["signal", "signal", "target"]
    assert targets[2] == pytest.approx(rows[2]["exit_price"])
    long_fill, short_fill = rows[0]["entry_price"], rows[1]["entry_price"]
    assert stops[0] == pytest.approx(long_fill * 0.98) and targets[0] == pytest.approx(long_fill + 3.0)
    assert stops[1] == 104.5 and np.isnan(targets[1]) and notes == []


def test_series_levels_are_read_on_the_signal_bar() -> None:
    from tradebot.runtime import ExecutionConfig, Level, SideRules

    trades = pl.DataFrame({"side": ["long"], "entry_bar": [5], "entry_price": [100.0]})
    config = ExecutionConfig(long=SideRules(stop_loss=Level("distance", "long.stop_loss")))
    stops, _targets, _notes = trade_levels(trades, config, {"long.stop_loss": np.arange(10.0)})
    assert stops[0] == 100.0 - 4.0  # bar 4 placed the market entry that filled on bar 5


def test_calendar_returns_by_hand() -> None:
    times = pl.Series(["2024-01-10", "2024-01-31", "2024-02-15", "2025-03-01"]).str.to_datetime().dt.replace_time_zone("UTC")
    equity = pl.DataFrame({"timestamp": times, "equity": [1000.0, 1100.0, 990.0, 1980.0]})
    monthly, yearly = calendar_returns(equity, 1000.0)
    assert monthly == [(2024, 1, pytest.approx(10.0)), (2024, 2, pytest.approx(-10.0)), (2025, 3, pytest.approx(100.0))]
    assert yearly == [(2024, pytest.approx(-1.0)), (2025, pytest.approx(100.0))]


def test_the_performance_table_is_the_terminal_one(small_run) -> None:
    from tradebot.runtime.report import format_summary

    bars, result = small_run
    table = backtest_page(result, title="t", bars=bars).metrics
    assert [row[0] for row in table.rows] == [label for _key, label, _unit in SUMMARY_ROWS]
    terminal = format_summary(result, title="t", settings={}, params={})
    for row in table.rows:  # every row reads the same, cell for cell, as in the terminal
        assert re.search(r"\s{2,}".join(re.escape(c) for c in row if c), terminal), row


def test_series_on_the_price_scale_overlay_the_candles(small_run) -> None:
    bars, result = small_run
    close = bars["close"].to_numpy()
    mean = np.concatenate([np.full(4, np.nan), np.convolve(close, np.ones(5) / 5, mode="valid")])
    page = backtest_page(result, title="t", bars=bars,
                         series={"sma": mean, "rsi": 50 + 20 * np.sin(np.arange(len(close))), "gap": np.full(len(close), np.nan)})
    assert [(s.name, s.overlay) for s in page.series] == [("sma", True), ("rsi", False), ("gap", False)]
    # A wide price range does not swallow an oscillator: judged against each bar's close.
    wave = pl.Series(np.linspace(50.0, 200.0, bars.height))
    wide = bars.with_columns(open=wave, high=wave + 1, low=wave - 1, close=wave)
    rsi = 60 + 10 * np.sin(np.arange(bars.height))
    assert not backtest_page(result, title="t", bars=wide, series={"rsi": rsi}).series[0].overlay



def test_the_stop_shown_is_the_tighter_of_fixed_and_trailing() -> None:
    from tradebot.runtime import ExecutionConfig, Level, SideRules

    trades = pl.DataFrame({"side": ["long", "short"], "entry_bar": [5, 9], "entry_price": [100.0, 100.0]})
    rules = SideRules(stop_loss=Level("percent", 0.05), trailing_stop=Level("distance", 2.0))
    stops, _targets, notes = trade_levels(trades, ExecutionConfig(long=rules, short=rules), {})
    assert stops.tolist() == [98.0, 102.0]  # the 2-point trail is tighter than 5 % on both sides
    loose = SideRules(stop_loss=Level("percent", 0.01), trailing_stop=Level("distance", 2.0))
    assert trade_levels(trades, ExecutionConfig(long=loose, short=loose), {})[0].tolist() == [99.0, 101.0]
    assert notes == ["trailing and break-even stops move during a trade: the chart shows the stop as it was set at the entry"]


def test_pair_heatmap_shows_the_best_over_the_other_params() -> None:
    from tradebot.report.sweep import _pair_heatmap

    ranked = pl.DataFrame({"param.a": [1, 1, 2, 2, 1], "param.b": [10, 20, 10, 10, 10],
                           "param.c": [0, 0, 0, 1, 1], "objective": [5.0, 1.0, 2.0, 7.0, 3.0]}).sort("objective", descending=True)
    h = _pair_heatmap(ranked, "param.a", "param.b", "sharpe", True)
    assert (h.row_name, h.row_values, h.column_name, h.column_values) == ("a", [1, 2], "b", [10, 20])
    assert h.values == [[5.0, 1.0], [7.0, None]] and h.best == (1, 0)  # (a=2, b=10) holds the best trial
    assert _pair_heatmap(ranked.sort("objective"), "param.a", "param.b", "sharpe", False).values == [[3.0, 1.0], [2.0, None]]
