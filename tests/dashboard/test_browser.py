"""The dashboard in a real browser (chromium through Playwright): fetch from the fake exchange and
watch the job finish live, check a broken script and see the terminal's diagnostic, run a backtest
and open its report, run a sweep and see its best so far and its study, watch a stream's CPU on the System page and stop it with the button, see the
Paper page say plainly that paper trading is missing, and be refused without the token on a
non-local address. Screenshots go to the test's folder (and to $TRADEBOT_SCREENSHOTS when set)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from dashkit import write_gapless_bars, settings_for

TIMEOUT_MS = 120_000


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    outside: list[str] = []

    def local_only(route) -> None:  # the dashboard never fetches anything from elsewhere
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "http://127.0.0.2:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", local_only)
    page = context.new_page()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()
    assert outside == []
    assert [e for e in errors if "401" not in e] == []


def shoot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
    folder = os.environ.get("TRADEBOT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"dashboard-{name}.png"), full_page=True)


def wait_job(page, status: str) -> None:
    page.wait_for_function("s => window.tradebot && window.tradebot.status === s", arg=status, timeout=TIMEOUT_MS)


def test_fetch_check_run_report_system_paper(page, serve, project, fake_env, tmp_path) -> None:
    served = serve(settings_for(project))
    page.goto(served.url + "/data")
    assert "No series in the store" in page.inner_text("main")
    form = page.locator('form[action="/jobs/fetch"]')
    form.locator('input[name="symbols"]').fill("BTCUSDT ETHUSDT")
    form.locator('select[name="interval"]').select_option("4h")
    form.locator('input[name="since"]').fill("2024-02-01")
    form.locator("button").click()
    page.wait_for_url("**/jobs/*")
    wait_job(page, "finished")  # pushed over the event stream: the page is never reloaded
    assert "BTCUSDT" in page.inner_text("#log") and page.inner_text("#status") == "finished (exit code 0)"
    shoot(page, tmp_path, "fetch-job")

    page.goto(served.url + "/data")
    rows = page.locator("#series tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().split("\t")[:3] == ["linear", "BTCUSDT", "4h"]
    assert "174" in rows.nth(0).inner_text()  # 29 days of 4h candles
    shoot(page, tmp_path, "data")

    page.goto(served.url + "/strategies")
    page.locator("#scripts tr", has_text="broken.tbs").locator("button", has_text="Check").click()
    page.wait_for_selector("#check")
    output = page.inner_text("#check pre")
    assert "strategies/broken.tbs:5:" in output and "^" in output and "hint:" in output
    shoot(page, tmp_path, "check")
    page.locator("#scripts tr", has_text="rsi.tbs").locator("button", has_text="Run").click()
    page.wait_for_url("**/jobs/*")
    wait_job(page, "finished")
    with page.context.expect_page() as opened:
        page.click("#report a")
    report = opened.value
    report.wait_for_function("window.tradebot && window.tradebot.ready", timeout=TIMEOUT_MS)
    assert report.evaluate("window.tradebot.model.trades.length") > 0
    shoot(report, tmp_path, "report")
    report.close()

    page.goto(served.url + "/sweeps")
    form = page.locator('form[action="/jobs/optimize"]')
    form.locator('select[name="script"]').select_option("strategies/sweep.tbs")
    form.locator("button").click()
    page.wait_for_url("**/jobs/*")
    wait_job(page, "finished")
    assert page.inner_text("#best").startswith("best so far: sharpe ")
    assert page.locator("#report a").count() == 1
    shoot(page, tmp_path, "sweep-job")
    page.goto(served.url + "/sweeps")
    assert page.locator("#studies tbody tr").first.inner_text().startswith("sweep\t16\tmaximize")
    shoot(page, tmp_path, "sweeps")

    page.goto(served.url + "/data")
    form = page.locator('form[action="/jobs/stream"]')
    form.locator('input[name="symbols"]').fill("SOLUSDT")
    form.locator('select[name="interval"]').select_option("1m")
    form.locator("button").click()
    page.wait_for_url("**/jobs/*")
    job_url = page.url
    page.wait_for_function("document.querySelector('#log').textContent.includes('SOLUSDT')", timeout=TIMEOUT_MS)
    page.goto(served.url + "/system")
    # Two pushes measure CPU between them; the chart draws the running job's line.
    page.wait_for_function("window.tradebot.events >= 3", timeout=TIMEOUT_MS)
    row = page.locator("#usage tbody tr", has_text="stream SOLUSDT")
    assert row.locator(".mem").inner_text().endswith("MB")
    assert page.evaluate("window.tradebot.charts.usage.getOption().series.length") >= 1
    shoot(page, tmp_path, "system")
    page.goto(job_url)
    page.locator("form.stop", has_text="Stop").locator("button").click()
    wait_job(page, "stopped")
    assert page.inner_text("#log").rstrip().endswith("stream stopped")
    assert not page.locator("form.stop").first.is_visible()  # nothing left to stop
    shoot(page, tmp_path, "stream-stopped")

    # A paper session on stored bars replayed as if live; its page follows the journal.
    write_gapless_bars(project / "strategies" / "data" / "replay.csv", bars=400)
    page.goto(served.url + "/paper")
    form = page.locator('form[action="/jobs/paper"]')
    form.locator('select[name="script"]').select_option("strategies/rsi.tbs")
    form.locator('input[name="replay"]').fill("strategies/data/replay.csv")
    form.locator("button").click()
    page.wait_for_url("**/jobs/*")
    wait_job(page, "finished")
    page.goto(served.url + "/paper")
    page.locator("#sessions a").first.click()
    page.wait_for_url("**/paper/*")
    assert "equity" in page.inner_text("main").lower()
    shoot(page, tmp_path, "paper")


def test_non_local_bind_refuses_without_the_token(page, serve, project, tmp_path) -> None:
    served = serve(settings_for(project, host="127.0.0.2", token="browser-token"))
    refused = page.goto(served.url + "/data")
    assert refused.status == 401 and "needs its token" in page.inner_text("body")
    shoot(page, tmp_path, "refused")
    page.goto(served.url + "/strategies?token=browser-token")
    assert page.url == served.url + "/strategies"  # the token moved into a cookie, out of the URL
    assert page.locator("#scripts tbody tr").count() == 3
    # The push channel checks it too: without the cookie an EventSource is refused.
    assert page.request.get(served.url + "/events/system", headers={"Cookie": ""},
                            max_redirects=0).status == 401


def test_a_session_journal_is_pushed_as_it_grows(page, serve, project, tmp_path) -> None:
    session = project / "sessions" / "rsi-replay"
    session.mkdir(parents=True)
    journal = session / "journal.jsonl"
    journal.write_text('{"kind": "fill", "side": "buy", "price": 1.1012, "qty": 1000}\n', encoding="utf-8")
    (session / "equity.csv").write_text("timestamp,equity\n" + "".join(
        f"2024-01-01T{h:02d}:00:00Z,{10_000 + 5 * h}\n" for h in range(24)), encoding="utf-8")
    served = serve(settings_for(project))
    page.goto(served.url + "/paper")
    page.click("#sessions a")
    page.wait_for_url("**/paper/rsi-replay")
    page.wait_for_function("document.querySelector('#journal').textContent.includes('1.1012')")
    assert page.evaluate("window.tradebot.charts.equity.getOption().series[0].data.length") == 24
    with open(journal, "a", encoding="utf-8") as handle:  # the trader appends; the page follows
        handle.write('{"kind": "mark", "time": "2024-01-02T00:00:00Z", "position": 1000, "open_pnl": -3.5, '
                     '"equity": 10115.5}\n')
    page.wait_for_function("document.querySelector('#journal').textContent.includes('10115.5')")
    assert page.evaluate("window.tradebot.charts.equity.getOption().series[0].data.length") == 25
    assert [page.inner_text(f"#now-{key}") for key in ("position", "open_pnl", "equity")] == ["1000.00", "-3.50", "10115.50"]  # money, two decimals
    shoot(page, tmp_path, "session")
