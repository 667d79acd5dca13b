"""The `:commands`: each checked against what the pipeline itself says for the same script."""
from __future__ import annotations

from pathlib import Path

import pytest

from tradebot.lang.builtins import REGISTRY
from tradebot.lang.parser import parse_program
from tradebot.lang.settings import SETTINGS
from tradebot.pipeline import backtest, compile_source, count_rules, load_bars, load_strategy
from tradebot.repl.commands import COMMANDS
from tradebot.runtime.report import format_summary

SCRIPT = """param n = 14 in 5..30
r = rsi(close, n)
enter long when r crosses above 30
exit long when r crosses above 70
"""


def _type(repl, text: str) -> str:
    return repl.handle(text).text


def _build(repl) -> None:
    for line in SCRIPT.splitlines():
        assert "error" not in _type(repl, line)


def test_run_prints_the_pipelines_own_summary(repl, eurusd):
    _build(repl)
    out = _type(repl, ":run")
    strategy = compile_source(SCRIPT, "s.tbs")
    truth = format_summary(backtest(strategy, eurusd), title="x", settings={}, params={"n": 14},
                           rules=count_rules(strategy, eurusd))
    metrics = truth[truth.index("Metric"):]  # the metrics, rules and trades do not depend on titles
    assert metrics.rstrip() in out


def test_run_without_rules_warns(repl):
    assert "never trades" in _type(repl, ":run")


def test_show_save_and_load_round_trip(repl, tmp_path):
    _build(repl)
    shown = _type(repl, ":show")
    assert parse_program(shown) == parse_program(SCRIPT)
    assert "wrote" in _type(repl, ":save saved.tbs")
    saved = Path("saved.tbs").read_text(encoding="utf-8")
    assert saved == shown + "\n"
    assert _type(repl, ":reset") == "session cleared"
    assert "empty" in _type(repl, ":show")
    assert "1 params, 1 series, 2 rules" in _type(repl, ":load saved.tbs")
    assert _type(repl, ":show") == shown


def test_load_a_script_and_use_its_data(repl, repo_root):
    out = _type(repl, f":load {repo_root / 'examples' / 'rsi.tbs'}")
    assert "3 params, 1 series, 4 rules" in out
    assert "5,000 bars" in out
    strategy = load_strategy(repo_root / "examples" / "rsi.tbs")
    run = _type(repl, ":run")
    bars = load_bars(repo_root / "data" / "EURUSD_1h.csv")
    # The rules by their lines in the session (`:show`), which has no comment lines.
    truth = format_summary(backtest(strategy, bars), title="x", settings={}, params={},
                           rules=count_rules(repl.session.compiled(), bars))
    assert truth[truth.index("Metric"):].rstrip() in run


def test_load_errors_name_the_file_and_keep_the_session(repl, tmp_path):
    _build(repl)
    bad = tmp_path / "bad.tbs"
    bad.write_text("x = rsii(close)\n", encoding="utf-8")
    out = _type(repl, f":load {bad}")
    assert f"{bad}:1:5: error: unknown function `rsii`" in out
    assert "no such script" in _type(repl, ":load nowhere.tbs")
    assert parse_program(_type(repl, ":show")) == parse_program(SCRIPT)


def test_set_rewrites_a_param_or_a_setting(repl):
    _build(repl)
    assert "redefined param n = 20" in _type(repl, ":set n=20")
    assert "param n = 20 in 5..30" in _type(repl, ":show")
    out = _type(repl, ":set n=40")
    assert "outside its range" in out and "^" in out
    assert "param n = 20 in 5..30" in _type(repl, ":show")
    assert "set fee 0.1%" in _type(repl, ":set fee=0.1%")
    assert repl.session.checked.settings["fee"] == pytest.approx(0.001)
    assert "did you mean `n`" in _type(repl, ":set nn=3")
    assert "usage" in _type(repl, ":set n")


def test_data_switches_files_and_rejects_bad_ones(repl, eurusd, tmp_path):
    small = tmp_path / "small.csv"
    eurusd.head(50).write_csv(small)
    assert "50 bars" in _type(repl, f":data {small}")
    assert "50 bars" in _type(repl, ":data")
    broken = tmp_path / "broken.csv"
    broken.write_text("timestamp,open\n1,2\n", encoding="utf-8")
    assert "missing column" in _type(repl, f":data {broken}")
    assert "50 bars" in _type(repl, ":data")  # the previous choice stays


def test_help_comes_from_the_registry(repl):
    listing = _type(repl, ":help")
    for command in COMMANDS.values():
        assert command.usage in listing
    for name in REGISTRY:
        assert name in listing
    page = _type(repl, ":help rsi")
    rsi = REGISTRY["rsi"]
    assert page.splitlines()[0] == rsi.signature()
    assert rsi.example in page
    assert SETTINGS["fee"].example in _type(repl, ":help fee")
    assert ":plot EXPRESSION" in _type(repl, ":help plot")
    assert "did you mean `rsi`" in _type(repl, ":help rsii")
    _type(repl, "x = sma(close, 3)")
    assert _type(repl, ":help x") == "x = sma(close, 3)"


def test_plot_draws_a_chart_over_the_last_bars(repl, eurusd):
    out = _type(repl, ":plot close").splitlines()
    width = 100 - 14
    assert out[0].startswith(f"close   last {width} bars")
    rows = out[1:]
    assert len(rows) == 8
    tail = eurusd["close"].tail(width)
    assert rows[0].split()[0] == f"{tail.max():.6g}" and rows[-1].split()[0] == f"{tail.min():.6g}"
    highest = int(tail.arg_max())
    assert rows[0].split("┤")[1][highest] == "█"  # the top row is full only at the maximum
    assert "constant" in _type(repl, ":plot 1 + 1")
    assert "unknown name" in _type(repl, ":plot nope")


def test_tail_unknown_commands_prefixes_and_quit(repl):
    assert "usage" in _type(repl, ":tail 0")
    assert "unknown command `:frobnicate`" in _type(repl, ":frobnicate")
    assert "did you mean `:show`" in _type(repl, ":shwo")
    assert _type(repl, ":sh") == _type(repl, ":show")
    assert repl.handle(":quit").quit and repl.handle(":q").quit
