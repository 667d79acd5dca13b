"""Portfolio reports in a real browser (chromium through Playwright, network cut): the account's
equity beside the equal-weight basket, the symbols' table and P&L, the trades with their symbol
(a click shows that symbol's chart, zoomed on the trade), a symbol picker, and the sweep page of
a portfolio `--optimize`. Screenshots go to the test's folder (and $TRADEBOT_SCREENSHOTS)."""
from __future__ import annotations

from pathlib import Path

from browser import open_offline
from test_browser import PIXELS, POINTS, ZOOM, shoot

from tradebot.cli import main

ROOT = Path(__file__).parents[2]
ROTATION = ROOT / "examples" / "rotation.tbs"


def test_portfolio_report_draws_the_account_symbols_and_trades(browser, tmp_path, capsys) -> None:
    path = tmp_path / "rotation.html"
    assert main(["run", str(ROTATION), "--report", str(path), "--trades", "0"]) == 0
    assert f"report: {path}" in capsys.readouterr().err
    page, visit = open_offline(browser, path)
    model = page.evaluate("window.tradebot.model")
    assert model["kind"] == "portfolio" and len(model["symbols"]) == 5
    legend = page.evaluate("window.tradebot.charts.overview.getOption().legend[0].data")
    assert legend == ["Equity", "Equal-weight basket", "Drawdown %"]
    assert page.evaluate(POINTS, "overview") > 1000 and page.evaluate(PIXELS, "overview") > 5000
    # The basket ends at the account's buy-and-hold return (the metric's definition).
    last = page.evaluate("(() => { const h = window.tradebot.backtest.hold; return h[h.length - 1]; })()")
    hold_row = next(r for r in model["metrics"]["rows"] if r[0] == "Buy & hold return")
    assert abs(100 * (last / model["capital"] - 1) - float(hold_row[1].split()[0].replace(",", ""))) < 0.01
    assert page.evaluate(PIXELS, "positions") > 1000
    shoot(page, tmp_path, "portfolio-overview")

    page.click("button[data-tab='Performance']")
    assert page.locator("#correlation tbody tr").count() == 5
    assert "Turnover" in page.inner_text("#page-performance")
    shoot(page, tmp_path, "portfolio-performance")

    page.click("button[data-tab='Symbols']")
    assert page.locator("#symbols-table tbody tr").count() == 5
    assert page.evaluate(PIXELS, "symbols") > 5000
    shoot(page, tmp_path, "portfolio-symbols")

    page.click("button[data-tab='Trades']")
    assert page.locator("#trades-table th[data-key='symbol']").count() == 1
    row = page.locator("#trades-table tbody tr").nth(5)
    trade = page.evaluate("i => window.tradebot.model.trades[i]", int(row.get_attribute("data-trade")))
    assert row.locator("td").nth(1).inner_text() == trade["symbol"]
    row.click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.tradebot.active") == "Chart"
    assert page.evaluate("document.getElementById('symbol-picker').selectedOptions[0].text") == trade["symbol"]
    start, end = page.evaluate(ZOOM, "price")
    assert end - start < 20, (start, end)
    # The candles are the trade's symbol's: its entry price lies within the entry bar's range.
    low, high = page.evaluate(f"""(() => {{ const b = window.tradebot.backtest.bars;
        return [b.low[{trade['entry_bar']}], b.high[{trade['entry_bar']}]]; }})()""")
    assert low * 0.999 <= trade["entry_price"] <= high * 1.001
    markers = page.evaluate("window.tradebot.charts.price.getOption().series.filter(s => s.name === 'Long entry')[0].data.length")
    assert markers >= 1
    assert page.evaluate(PIXELS, "price") > 5000
    shoot(page, tmp_path, "portfolio-chart-trade")

    other = next(s["name"] for s in model["symbols"] if s["name"] != trade["symbol"])
    page.select_option("#symbol-picker", label=other)
    page.wait_for_timeout(200)
    assert page.evaluate("window.tradebot.backtest.symbols[window.tradebot.backtest.symbol].name") == other
    shoot(page, tmp_path, "portfolio-chart-other")
    assert visit.requests == [] and visit.errors == []


def test_a_saved_portfolio_run_draws_the_same_page(browser, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    direct = tmp_path / "direct.html"
    assert main(["run", str(ROTATION), "--out", str(out), "--report", str(direct), "--trades", "0"]) == 0
    saved = tmp_path / "saved.html"
    assert main(["report", str(out), "--output", str(saved)]) == 0
    capsys.readouterr()
    page, visit = open_offline(browser, saved)
    again, _ = open_offline(browser, direct)
    for key in ("trades", "metrics", "portfolio", "symbol_table", "correlation", "notes"):
        assert page.evaluate(f"window.tradebot.model.{key}") == again.evaluate(f"window.tradebot.model.{key}"), key
    assert page.evaluate(PIXELS, "overview") > 5000
    assert visit.requests == [] and visit.errors == []


def test_portfolio_sweep_report(browser, tmp_path, capsys) -> None:
    path = tmp_path / "sweep.html"
    assert main(["run", str(ROTATION), "--optimize", "--report", str(path)]) == 0
    capsys.readouterr()
    page, visit = open_offline(browser, path)
    assert page.evaluate("window.tradebot.model.best.kind") == "portfolio"
    shoot(page, tmp_path, "portfolio-sweep")
    page.click("button[data-tab='Validation']")
    assert page.evaluate(PIXELS, "oos") > 1000
    page.click("button[data-tab='Best: Overview']")
    assert page.evaluate(PIXELS, "overview-best") > 5000
    page.click("button[data-tab='Best: Symbols']")
    assert page.locator("#symbols-table-best tbody tr").count() == 5
    shoot(page, tmp_path, "portfolio-sweep-best")
    assert visit.requests == [] and visit.errors == []
