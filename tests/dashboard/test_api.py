"""Every endpoint of the dashboard over HTTP, with the inputs a user or another site could send:
pages, the JSON API, the event streams, files; bad kinds, bad fields, paths outside the project,
missing CSRF, foreign Origin and Host, unknown jobs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dashkit import settings_for, wait_for, write_gapless_bars

from tradebot.dashboard.jobs import Registry

PAGES = ("/data", "/strategies", "/sweeps", "/paper", "/system")


@pytest.fixture
def served(serve, project):
    return serve(settings_for(project))


def start(served, **fields) -> dict:
    reply = served.post("/api/jobs", json=fields)
    assert reply.status_code == 201, reply.text
    return reply.json()


@pytest.mark.parametrize("path", PAGES)
def test_pages_render(served, path) -> None:
    reply = served.get(path)
    assert reply.status_code == 200 and "text/html" in reply.headers["Content-Type"]
    assert f'name="csrf" content="{served.csrf}"' in reply.text
    assert reply.headers["X-Frame-Options"] == "DENY"


def test_root_and_assets(served) -> None:
    assert served.get("/").url.endswith("/data")
    assert "echarts" in served.get("/assets/echarts.js").text[:2000].lower()
    assert served.get("/assets/dashboard.js").status_code == 200
    assert served.get("/assets/report.js").status_code == 404


def test_strategies_lists_scripts_and_check_shows_the_terminal_diagnostic(served) -> None:
    assert served.get("/api/scripts").json() == ["strategies/broken.tbs", "strategies/rsi.tbs", "strategies/sweep.tbs"]
    good = served.post("/api/check", json={"script": "strategies/rsi.tbs"}).json()
    assert good["exit_code"] == 0, good
    bad = served.post("/api/check", json={"script": "strategies/broken.tbs"}).json()
    assert bad["exit_code"] == 2
    # The same text as `tradebot check` in a terminal: file:line:col, the line, a caret, a hint.
    assert "strategies/broken.tbs:5:" in bad["output"] and "^" in bad["output"] and "hint:" in bad["output"]
    page = served.post("/strategies/check", data={"script": "strategies/broken.tbs", "csrf": served.csrf})
    assert page.status_code == 200 and "exit code 2" in page.text and "hint:" in page.text


@pytest.mark.parametrize("fields, message", [
    ({"kind": "shell", "script": "x"}, "unknown job kind 'shell'"),
    ({"script": "strategies/rsi.tbs"}, "unknown job kind ''"),
    ({"kind": "fetch", "symbols": "BTCUSDT; rm -rf /", "since": "1d"}, "is not a symbol"),
    ({"kind": "fetch", "symbols": "BTCUSDT", "interval": "7x", "since": "1d"}, "interval: '7x' is not one of"),
    ({"kind": "fetch", "symbols": "BTCUSDT", "since": "yesterday"}, "cannot read 'yesterday' as a time"),
    ({"kind": "fetch", "symbols": "BTCUSDT"}, "since: required"),
    ({"kind": "fetch", "symbols": "BTCUSDT", "since": "1d", "category": "futures"}, "category"),
    ({"kind": "stream", "symbols": "BTCUSDT", "duration": "-5"}, "duration: must be above 0"),
    ({"kind": "optimize", "script": "strategies/rsi.tbs", "trials": "many"}, "trials: 'many' is not a number"),
    ({"kind": "optimize", "script": "strategies/rsi.tbs", "method": "annealing"}, "method"),
    ({"kind": "run", "script": "../../etc/passwd"}, "outside the project folder"),
    ({"kind": "run", "script": "/etc/passwd"}, "outside the project folder"),
    ({"kind": "run", "script": "strategies/data/EURUSD_1h.csv"}, "not a .tbs file"),
])
def test_bad_job_requests_are_refused_before_any_process(served, fields, message) -> None:
    reply = served.post("/api/jobs", json=fields)
    assert reply.status_code == 400, reply.text
    assert message in reply.json()["error"]
    assert served.get("/api/jobs").json() == []


def test_missing_script_is_404_and_malformed_body_is_400(served) -> None:
    assert served.post("/api/jobs", json={"kind": "run", "script": "strategies/nope.tbs"}).status_code == 404
    assert served.post("/api/jobs", data="{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert served.post("/api/jobs", json=["run"]).status_code == 400
    form = served.post("/jobs/run", data={"script": "../outside.tbs", "csrf": served.csrf})
    assert form.status_code == 400 and "outside the project folder" in form.text


def test_outside_symlink_is_refused(served, project, tmp_path) -> None:
    (tmp_path / "secret.tbs").write_text('strategy "x"\n', encoding="utf-8")
    try:
        (project / "strategies" / "link.tbs").symlink_to(tmp_path / "secret.tbs")
    except OSError:
        pytest.skip("no symlinks here")
    assert "outside the project" in served.post("/api/jobs", json={"kind": "run", "script": "strategies/link.tbs"}).text


def test_unknown_jobs_are_404(served) -> None:
    for path in ("/api/jobs/20240101-000000-abcd", "/jobs/20240101-000000-abcd", "/api/jobs/..%2F..%2Fetc",
                 "/events/jobs/20240101-000000-abcd"):
        assert served.get(path).status_code == 404, path
    assert served.post("/api/jobs/20240101-000000-abcd/stop").status_code == 404
    assert served.post("/jobs/nope/stop", data={"csrf": served.csrf}).status_code == 404


def test_state_changes_need_csrf_and_same_origin(served) -> None:
    fields = {"kind": "run", "script": "strategies/rsi.tbs"}
    assert served.post("/api/jobs", json=fields, csrf=False).status_code == 403
    assert served.post("/api/jobs", json=fields, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    assert served.post("/jobs/run", data={"script": "strategies/rsi.tbs"}, csrf=False).status_code == 403
    assert served.post("/api/jobs", json=fields, headers={"Origin": "http://evil.example"}).status_code == 403
    assert served.post("/api/jobs", json=fields, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert served.post("/api/check", json={"script": "strategies/rsi.tbs"}, csrf=False).status_code == 403
    assert served.session.put(served.url + "/api/jobs", timeout=10).status_code == 405
    assert served.get("/api/jobs").json() == []


def test_a_rebound_dns_name_is_refused(served) -> None:
    """A page at evil.example whose name now resolves to 127.0.0.1 sends Host: evil.example."""
    reply = served.get("/data", headers={"Host": "evil.example:8765"})
    assert reply.status_code == 403 and "unknown Host" in reply.text


def test_files_only_inside_the_roots(served, project) -> None:
    assert served.get("/files/strategies/rsi.tbs").text.startswith("# RSI")
    for path in ("/files/../../etc/passwd", "/files/%2e%2e/%2e%2e/etc/passwd", "/files//etc/passwd",
                 "/files/strategies/nope.tbs", "/files/.tradebot/dashboard.log"):
        assert served.get(path).status_code == 404, path
    (project / "tradebot.toml").write_text("[ui]\ntoken = 'x'\n", encoding="utf-8")
    assert served.get("/files/tradebot.toml").status_code == 404  # not a served kind of file


def test_token_mode_on_a_non_local_address(serve, project) -> None:
    served = serve(settings_for(project, host="127.0.0.2", token="s3cret-token"))
    for path in (*PAGES, "/api/jobs", "/events/system", "/assets/dashboard.js"):
        assert served.get(path).status_code == 401, path
    assert served.post("/api/jobs", json={"kind": "run", "script": "strategies/rsi.tbs"}).status_code == 401
    assert served.get("/data", headers={"X-Tradebot-Token": "wrong"}).status_code == 401
    assert served.get("/data?token=wrong").status_code == 401
    assert served.get("/data", headers={"X-Tradebot-Token": "s3cret-token"}).status_code == 200
    assert served.get("/api/jobs", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    login = served.session.get(served.url + "/sweeps?token=s3cret-token", allow_redirects=False, timeout=10)
    assert login.status_code == 303 and login.headers["Location"] == "/sweeps"
    assert "HttpOnly" in login.headers["Set-Cookie"] and "SameSite=Strict" in login.headers["Set-Cookie"]
    assert served.get("/data").status_code == 200  # the cookie now
    # With a token the token decides, whatever name the machine is reached by.
    assert served.get("/data", headers={"Host": "any.name:1", "X-Tradebot-Token": "s3cret-token"}).status_code == 200


def test_run_job_finishes_with_its_report(served) -> None:
    job = start(served, kind="run", script="strategies/rsi.tbs")
    assert job["status"] == "running" and job["argv"][0] == "run"
    done = wait_for(served, job["id"])
    assert done["status"] == "finished" and done["exit_code"] == 0, done["tail"]
    assert done["report_ready"] and done["report_url"].startswith("/files/reports/dashboard/")
    report = served.get(done["report_url"])
    assert report.status_code == 200 and "echarts" in report.text.lower()
    page = served.get("/strategies").text
    assert f'/jobs/{job["id"]}' in page and 'class="report"' in page
    assert f'<ul id="reports"><li><a href="{done["report_url"]}"' in page  # listed with the saved reports
    events = served.get(f'/events/jobs/{job["id"]}').text  # an ended job: the log, its status, the end
    assert "event: log" in events and "event: end\ndata: finished" in events


def test_failed_job_shows_exit_code_and_last_lines(served, project) -> None:
    (project / "strategies" / "nodata.tbs").write_text('strategy "x"\ndata "missing.csv"\nenter long when close > 1\n',
                                                        encoding="utf-8")
    job = wait_for(served, start(served, kind="run", script="strategies/nodata.tbs")["id"])
    assert job["status"] == "failed" and job["exit_code"] != 0
    assert any("missing.csv" in line for line in job["tail"])


def test_fetch_from_the_fake_exchange_fills_the_data_page(served, fake_env) -> None:
    job = start(served, kind="fetch", symbols="btcusdt ETHUSDT", interval="4h", since="2024-02-01")
    done = wait_for(served, job["id"])
    assert done["status"] == "finished", done["tail"]
    series = {(s["symbol"], s["interval"]): s for s in served.get("/api/series").json()}
    assert set(series) == {("BTCUSDT", "4h"), ("ETHUSDT", "4h")}
    btc = series["BTCUSDT", "4h"]
    # 2024-02-01 to the fake's now (2024-03-01T00:30Z): 29 days of 4h candles, all closed ones.
    assert btc["rows"] == 29 * 6 and btc["gaps"] == 0 and btc["first"] == "2024-02-01T00:00:00Z"
    assert btc["path"] == "data/bybit/linear/BTCUSDT/4h.csv" and btc["size"] > 0
    assert "BTCUSDT" in served.get("/data").text


def test_stop_is_graceful_and_a_restarted_dashboard_reattaches(served, serve, project, fake_env) -> None:
    job = start(served, kind="stream", symbols="BTCUSDT", interval="1m")
    wait_for(served, job["id"], until=lambda j: any("BTCUSDT" in line for line in j["tail"]), timeout=60)
    # A second dashboard on the same project (a restart) sees the running job, with its usage.
    again = serve(settings_for(project))
    assert again.get(f'/api/jobs/{job["id"]}').json()["status"] == "running"
    usage = {j["id"]: j for j in again.get("/api/system").json()["jobs"]}[job["id"]]
    assert usage["memory_bytes"] > 10_000_000 and usage["cpu_percent"] is not None
    assert again.post(f'/api/jobs/{job["id"]}/stop').status_code == 202
    stopped = wait_for(again, job["id"], timeout=60)
    # Ctrl-C semantics: the stream's own interrupt path ran (it flushes, says so, exits 0), not a kill.
    assert stopped["status"] == "stopped" and stopped["exit_code"] == 0, stopped["tail"]
    assert stopped["tail"][-1] == "stream stopped"
    assert served.get(f'/api/jobs/{job["id"]}').json()["status"] == "stopped"
    assert f'stop asked of {job["id"]}' in again.get("/system").text  # the dashboard's log


def test_kill_ends_a_job_at_once_and_says_so(served, fake_env) -> None:
    job = start(served, kind="stream", symbols="ETHUSDT", interval="1m")
    wait_for(served, job["id"], until=lambda j: any("ETHUSDT" in line for line in j["tail"]), timeout=60)
    assert served.post(f'/jobs/{job["id"]}/stop', data={"force": "1", "csrf": served.csrf}).status_code == 303
    killed = wait_for(served, job["id"], timeout=30)
    assert killed["status"] == "killed" and killed["exit_code"] != 0
    assert "stream stopped" not in killed["tail"]  # no graceful path ran


def test_a_job_whose_supervisor_vanished_is_lost_with_its_last_lines(project, tmp_path) -> None:
    settings = settings_for(project)
    folder = settings.jobs / "20240101-000000-abcd"
    folder.mkdir(parents=True)
    record = {"id": folder.name, "kind": "fetch", "title": "fetch BTCUSDT 1h", "args": ["fetch"], "argv": [],
              "cwd": str(project), "created": time.time(), "pid": 2**22 + 17, "pid_started": 1.0}
    (folder / "job.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "log.txt").write_text("one\ntwo\nlast words\n", encoding="utf-8")
    job = Registry(settings.jobs, cwd=project).get(folder.name)
    assert job.status == "lost" and job.exit_code is None and job.tail(2) == ["two", "last words"]
    # A live pid that belongs to another process (pid reuse) is not the job either.
    record.update(pid=os.getpid(), pid_started=1.0)
    (folder / "job.json").write_text(json.dumps(record), encoding="utf-8")
    assert Registry(settings.jobs, cwd=project).get(folder.name).status == "lost"


def test_sweep_progress_best_and_studies(served) -> None:
    job = start(served, kind="optimize", script="strategies/sweep.tbs", method="grid")
    assert job["argv"][-2:] == ["--method", "grid"]
    done = wait_for(served, job["id"], timeout=180)
    assert done["status"] == "finished", done["tail"]
    assert done["progress"]["percent"] == 100 and done["progress"]["best"].startswith("sharpe ")
    assert done["report_ready"]
    studies = served.get("/api/studies").json()["studies"]
    assert [s["name"] for s in studies] == ["sweep"]
    # The best, as Optuna itself reads the same storage.
    import optuna

    study = optuna.load_study(study_name="sweep", storage=served.dashboard.settings.storage)
    values = [t.value for t in study.trials if t.value is not None]
    assert studies[0]["trials"] == len(study.trials) == 16 and studies[0]["best_value"] == max(values)
    assert studies[0]["best_params"] == study.best_trial.params
    assert "fast=" in served.get("/sweeps").text


def test_a_paper_session_replayed_from_the_dashboard_is_identical_to_the_backtest(served, project) -> None:
    # The page offers the form once `tradebot paper` exists; a replay job writes a session folder
    # that `tradebot paper verify` (the CLI's own check) finds identical to a backtest.
    reply = served.get("/api/sessions").json()
    assert reply["paper_available"] is True, reply
    assert 'action="/jobs/paper"' in served.get("/paper").text
    write_gapless_bars(project / "strategies" / "data" / "replay.csv", bars=400)
    job = start(served, kind="paper", script="strategies/rsi.tbs", replay="strategies/data/replay.csv")
    assert job["argv"][:2] == ["paper", str(project.resolve() / "strategies" / "rsi.tbs")]
    done = wait_for(served, job["id"])
    assert done["status"] == "finished" and done["exit_code"] == 0, done["tail"]
    sessions = served.get("/api/sessions").json()["sessions"]
    assert len(sessions) == 1 and served.get(f"/paper/{sessions[0]}").status_code == 200
    verified = subprocess.run([sys.executable, "-m", "tradebot", "paper", "verify",
                               str(project / "sessions" / sessions[0])], capture_output=True, text=True, timeout=300)
    assert verified.returncode == 0 and "identical" in verified.stdout, verified.stdout + verified.stderr


@pytest.mark.parametrize("fields, why", [
    ({"replay": "/etc/passwd"}, "outside the project"),
    ({"replay": "strategies/rsi.tbs"}, "not a .csv file"),
    ({"symbols": "BTCUSDT ETHUSDT"}, "one symbol"),
    ({"symbols": "BTC-USDT"}, "is not a symbol"),
    ({}, "symbols: required"),
])
def test_a_malformed_paper_job_is_refused(served, fields, why) -> None:
    refused = served.post("/api/jobs", json={"kind": "paper", "script": "strategies/rsi.tbs", **fields})
    assert refused.status_code == 400 and why in refused.json()["error"], refused.text


def test_session_pages_read_the_journal(served, project) -> None:
    session = project / "sessions" / "rsi-1"
    session.mkdir(parents=True)
    (session / "journal.jsonl").write_text('{"kind": "fill", "price": 1.1}\n{"kind": "equi', encoding="utf-8")
    (session / "equity.csv").write_text("timestamp,equity\n2024-01-01T00:00:00Z,1000\n", encoding="utf-8")
    assert served.get("/api/sessions").json()["sessions"] == ["rsi-1"]
    assert served.get("/paper/rsi-1").status_code == 200
    assert served.get("/paper/%2E%2E").status_code == 404 and served.get("/paper/nope").status_code == 404
    with served.session.get(served.url + "/events/sessions/rsi-1", stream=True, timeout=10) as events:
        first = next(events.iter_lines(decode_unicode=True, delimiter="\n\n"))
    assert first == 'event: journal\ndata: {"kind": "fill", "price": 1.1}'  # the torn line waits


def test_nothing_but_the_cli_imports_the_dashboard() -> None:
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from test_layering import imported

    package = Path(__file__).parents[2] / "tradebot"
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        room = module.split(".")[1] if "." in module else ""
        if room in ("cli", "dashboard"):
            continue
        for line, target in imported(module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py"):
            assert not target.startswith("tradebot.dashboard"), f"{module}:{line} imports {target}"


def test_a_stopped_sweep_keeps_its_study(served) -> None:
    import optuna

    from tradebot.optimize import study as study_module

    job = start(served, kind="optimize", script="strategies/rsi.tbs", method="bayes", trials="5000")
    storage = served.dashboard.settings.storage

    def trials_so_far(_job: dict) -> bool:
        try:
            # Through the product's opener: the job may be creating the schema this moment, and
            # Optuna's own opener then fails on alembic's version row instead of retrying.
            trials = optuna.load_study(study_name="rsi/fold-1", storage=study_module.open_storage(storage)).trials
            return sum(t.state != optuna.trial.TrialState.RUNNING for t in trials) >= 8
        except (KeyError, ValueError):  # the study (or its database) is not there yet
            return False

    wait_for(served, job["id"], until=trials_so_far, timeout=120)
    # A SIGINT that lands inside a garbage-collector callback (SQLAlchemy's) is swallowed by Python
    # ("Exception ignored in ..."), so the sweep may go on: then the user presses Stop again, as
    # they would press Ctrl-C again in a terminal.
    for _ in range(3):
        served.post(f'/api/jobs/{job["id"]}/stop')
        try:
            stopped = wait_for(served, job["id"], timeout=20)
            break
        except AssertionError:
            continue
    assert stopped["status"] == "stopped", stopped["tail"]
    # The study keeps every evaluated trial (the count the sweep printed), and the sweep still
    # printed its table and wrote its report. (Trials asked of Optuna when the interrupt landed
    # may stay RUNNING: the optimizer's business, not the dashboard's.)
    # "Evaluated" as the study module defines it: a trial holding its row. A repeated point (told
    # its first visit's value) and an infeasible one (pruned unrun) are COMPLETE or PRUNED in Optuna
    # without having been evaluated, so counting states overcounts (17 against 16 printed, once).
    study = optuna.load_study(study_name="rsi/fold-1", storage=storage)
    evaluated = sum(map(study_module.evaluated, study.trials))
    log = served.dashboard.registry.get(job["id"]).tail(200)
    printed = next(int(line.split()[0]) for line in log if " trials in " in line)
    assert 8 <= evaluated == printed < 5000
    assert "interrupted: the results below cover the trials finished so far" in log
    assert stopped["report_ready"]
