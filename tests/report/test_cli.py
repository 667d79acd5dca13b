"""`tradebot run --report [FILE] [--open]` and `tradebot report DIR` end to end."""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from test_model import embedded_model

from tradebot.cli import main
from tradebot.report.runs import default_path

ROOT = Path(__file__).parents[2]
RSI = ROOT / "examples" / "rsi.tbs"
DRAWN = ("time", "equity", "bars", "series", "trades", "metrics", "monthly", "yearly", "capital", "title")


def test_report_goes_to_reports_by_default_and_keeps_json_output_clean(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(RSI), "--report", "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout is still one JSON document; the path goes to stderr
    written = list((tmp_path / "reports").glob("rsi-mean-reversion-*.html"))
    assert len(written) == 1 and f"report: {Path('reports') / written[0].name}" in captured.err


def test_default_path_is_safe_for_any_file_system() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert default_path("RSI: mean/reversion?", now=when) == Path("reports", "rsi-mean-reversion-20240506-070809.html")
    assert default_path("***", now=when).name == "strategy-20240506-070809.html"


def test_open_hands_the_file_to_the_default_browser(tmp_path, monkeypatch) -> None:
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    path = tmp_path / "my.html"
    assert main(["run", str(RSI), "--report", str(path), "--open"]) == 0
    assert opened == [path.resolve().as_uri()]


def test_report_of_a_saved_run_draws_the_same_data(tmp_path, capsys) -> None:
    direct, again, out = tmp_path / "direct.html", tmp_path / "again.html", tmp_path / "out"
    assert main(["run", str(RSI), "--report", str(direct), "--out", str(out)]) == 0
    assert {"series.csv", "report.json"} <= {p.name for p in out.iterdir()}
    assert main(["report", str(out), "-o", str(again)]) == 0
    first, second = (embedded_model(p.read_text(encoding="utf-8")) for p in (direct, again))
    assert {k: first[k] for k in DRAWN} == {k: second[k] for k in DRAWN}
    assert first["series"][0]["name"] == "r" and not first["series"][0]["overlay"]  # RSI: its own pane


def test_report_of_a_saved_run_whose_bars_moved(tmp_path, capsys) -> None:
    bars, out = tmp_path / "bars.csv", tmp_path / "out"
    shutil.copy(ROOT / "data" / "EURUSD_1h.csv", bars)
    assert main(["run", str(RSI), "--data", str(bars), "--out", str(out)]) == 0
    bars.unlink()
    assert main(["report", str(out), "-o", str(tmp_path / "r.html")]) == 0
    model = embedded_model((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert model["bars"] is None and any("no candles" in note for note in model["notes"])


def test_report_of_a_folder_that_is_not_a_run(tmp_path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no equity.csv, trades.csv, result.json here" in err and "Traceback" not in err
    (tmp_path / "trials.csv").write_text("trial\n0\n")
    assert main(["report", str(tmp_path)]) == 2
    assert "holds a sweep: its report is" in capsys.readouterr().err


def test_open_without_report_is_a_usage_error(capsys) -> None:
    assert main(["run", str(RSI), "--open"]) == 2
    assert "--open opens the HTML report" in capsys.readouterr().err
