"""The reports in a real browser (chromium through Playwright, network cut): they load without a
console error or a single request, draw non-empty charts, zoom the chart to a clicked trade, and
render the bad inputs with a note instead of failing. Screenshots go to the test's folder (and to
$TRADEBOT_SCREENSHOTS when set, to look at them)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from browser import open_offline
from conftest import SMALL_CONFIG, small_bars

from tradebot.cli import main
from tradebot.report import write_report
from tradebot.report.backtest import backtest_page
from tradebot.runtime import Signals, run_backtest

ROOT = Path(__file__).parents[2]

# Non-background pixels of a chart's canvas, and the number of points its series hold.
PIXELS = """name => {
  const canvas = window.tradebot.charts[name].getDom().querySelector('canvas');
  const {data} = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) ink++;
  return ink;
}"""
POINTS = "name => window.tradebot.charts[name].getOption().series.reduce((n, s) => n + (s.data ? s.data.length : 0), 0)"
ZOOM = "name => { const z = window.tradebot.charts[name].getOption().dataZoom[0]; return [z.start, z.end]; }"


def shoot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    folder = os.environ.get("TRADEBOT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_backtest_report_offline_with_charts_and_trade_zoom(browser, tmp_path, capsys) -> None:
    path = tmp_path / "rsi.html"
    assert main(["run", str(ROOT / "examples" / "rsi.tbs"), "--report", str(path)]) == 0
    assert f"report: {path}" in capsys.readouterr().err
    page, visit = open_offline(browser, path)
    assert page.evaluate(POINTS, "overview") > 1000 and page.evaluate(PIXELS, "overview") > 5000
    shoot(page, tmp_path, "overview")
    for tab in ("Performance", "Calendar", "Trades"):
        page.click(f"button[data-tab='{tab}']")
    assert page.evaluate(PIXELS, "monthly") > 1000
    assert page.locator("#trades-table tbody tr").count() == len(page.evaluate("window.tradebot.model.trades"))
    page.click("#trades-table th[data-key='pnl']")  # sortable: the worst trade first
    pnls = page.evaluate("[...document.querySelectorAll('#trades-table tbody tr')].map(r => parseFloat(r.cells[7].textContent.replace(/,/g, '')))")
    assert pnls == sorted(pnls)
    row = page.locator("#trades-table tbody tr").nth(3)
    trade = page.evaluate("i => window.tradebot.model.trades[i]", int(row.get_attribute("data-trade")))
    row.click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.tradebot.active") == "Chart"
    start, end = page.evaluate(ZOOM, "price")
    assert end - start < 10, (start, end)  # zoomed from the whole history to the trade
    time = page.evaluate("window.tradebot.backtest.time[0]"), page.evaluate("window.tradebot.backtest.t1")
    shown = [time[0] + (time[1] - time[0]) * p / 100 for p in (start, end)]
    entry = page.evaluate(f"window.tradebot.backtest.time[{trade['entry_bar']}]")
    exit_ = page.evaluate(f"window.tradebot.backtest.time[{trade['exit_bar']}]")
    assert shown[0] <= entry and exit_ <= shown[1]
    candles = page.evaluate("window.tradebot.charts.price.getOption().series[0].data.length")
    assert 0 < candles <= trade["exit_bar"] - trade["entry_bar"] + 2 * max(30, trade["exit_bar"] - trade["entry_bar"]) + 3
    assert page.evaluate(PIXELS, "price") > 5000
    shoot(page, tmp_path, "chart-trade")
    assert visit.requests == [] and visit.errors == []


def sweep_report(browser, tmp_path: Path, body: str):
    """Run `body` (params, rules, optimize statement) on the bundled data with --optimize --report
    and open the report."""
    script = tmp_path / "sweep.tbs"
    script.write_text(f'data "{(ROOT / "data" / "EURUSD_1h.csv").as_posix()}"\n' + body)
    path = tmp_path / "sweep.html"
    assert main(["run", str(script), "--optimize", "--report", str(path)]) == 0
    return open_offline(browser, path)


def test_sweep_report_offline(browser, tmp_path) -> None:
    page, visit = sweep_report(browser, tmp_path, "param length = 14 in 5..30\nparam lower = 30 in 10..40 step 5\n"
                               "param upper = 70 in 60..90 step 5\nr = rsi(close, length)\n"
                               "enter long when r crosses above lower\nexit long when r crosses above upper\n"
                               "optimize maximize sharpe by random trials 12 seed 3\n  validate walk_forward 2 folds\n")
    assert page.evaluate(PIXELS, "heatmap0") > 500 and page.evaluate(PIXELS, "parallel") > 2000
    shoot(page, tmp_path, "sweep")
    trials = page.locator("table.sortable").last
    column = page.evaluate("window.tradebot.model.trials.header.indexOf('objective')")
    trials.locator(f"th[data-key='{column}']").click()
    cells = trials.locator(f"tbody tr td:nth-child({column + 1})").all_inner_texts()
    values = [float(c.replace(",", "")) for c in cells if c != "-"]
    assert len(values) > 2 and values == sorted(values)
    page.click("button[data-tab='Validation']")
    assert page.evaluate(POINTS, "oos") > 100
    page.click("button[data-tab='Best: Overview']")
    assert page.evaluate(POINTS, "overview-best") > 100
    assert visit.requests == [] and visit.errors == []


def _no_trade_signals(n: int) -> Signals:
    return Signals.none(n)


@pytest.mark.parametrize("case, bars, expect", [
    ("no-trades", 48, "no trades"),
    ("one-bar", 1, "one bar only"),
])
def test_bad_input_renders_and_says_what_is_missing(browser, tmp_path, case, bars, expect) -> None:
    frame = small_bars(bars)
    result = run_backtest(frame, _no_trade_signals(bars), SMALL_CONFIG)
    page_model = backtest_page(result, title=case, bars=frame, series={"flat": np.full(bars, np.nan)})
    path = write_report(page_model, tmp_path / f"{case}.html")
    page, visit = open_offline(browser, path)
    text = page.inner_text("body")
    assert expect in text
    if bars > 1:
        assert "the equity is flat" in text
    for tab in ("Performance", "Trades", "Chart", "Calendar", "Overview"):
        page.click(f"button[data-tab='{tab}']")
        assert expect in page.inner_text("body")  # the note is on every tab
    assert visit.requests == [] and visit.errors == []
    shoot(page, tmp_path, case)


def test_sweep_with_one_trial_renders(browser, tmp_path) -> None:
    page, visit = sweep_report(browser, tmp_path, "param n = 14 in 14..14\nr = rsi(close, n)\n"
                               "enter long when r crosses above 30\nexit long when r crosses above 70\n"
                               "optimize maximize sharpe by grid\n")
    assert "1 trial" in page.inner_text("body")
    for tab in ("Validation", "Manifest", "Best: Chart"):
        page.click(f"button[data-tab='{tab}']")
    assert visit.requests == [] and visit.errors == []
