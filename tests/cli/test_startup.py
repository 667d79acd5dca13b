"""What a `tradebot run` process does besides the backtest: the imports it pays for, and its end
(without Python's teardown, but with everything an exit owes: output, atexit handlers, code)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tradebot import cli
from tradebot.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples/sma_cross.tbs"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_the_run_command_imports_no_exchange_client() -> None:
    # aiohttp and websockets cost a quarter of a second; only the data commands use them.
    done = _python("import sys, tradebot.cli.run, tradebot.pipeline\n"
                   "print(sorted(m for m in ('aiohttp', 'websockets', 'optuna') if m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_end_process_flushes_runs_atexit_and_keeps_the_code() -> None:
    done = _python("import atexit, sys\n"
                   "from tradebot.__main__ import end_process\n"
                   "atexit.register(lambda: print('atexit ran'))\n"
                   "print('buffered', end=' ')\n"
                   "end_process(3)\n"
                   "print('not reached')\n")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered atexit ran\n"


def test_end_process_leaves_a_running_thread_to_the_ordinary_exit() -> None:
    done = _python("import threading, time\n"
                   "from tradebot.__main__ import end_process\n"
                   "worker = threading.Thread(target=lambda: (time.sleep(0.2), print('worker done')))\n"
                   "worker.start()\n"
                   "end_process(5)\n"
                   "print('returned')\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["returned", "worker done"]


def test_a_run_process_writes_everything_an_in_process_run_does(tmp_path: Path, capsys) -> None:
    outside, inside = tmp_path / "process", tmp_path / "in-process"
    done = subprocess.run([sys.executable, "-m", "tradebot", "run", str(SCRIPT), "--json", "--out", str(outside)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert main(["run", str(SCRIPT), "--json", "--out", str(inside)]) == 0
    expected = capsys.readouterr().out
    assert json.loads(done.stdout) == json.loads(expected)
    for name in ("trades.csv", "equity.csv", "result.json"):
        assert (outside / name).read_bytes() == (inside / name).read_bytes(), name


def test_only_a_finished_backtest_skips_the_teardown(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "_skip_teardown", False)
    bad = tmp_path / "bad.tbs"
    bad.write_text("enter long when close >\n")
    assert main(["run", str(bad)]) == 2
    assert not cli.teardown_skippable()
    assert main(["run", str(SCRIPT)]) == 0
    assert cli.teardown_skippable()
    capsys.readouterr()


def test_numpy_ma_is_imported_before_any_kernel_runs_on_polars_threads() -> None:
    # numba's typeof reads np.ma, which numpy imports lazily and not thread-safely (support.py).
    done = _python("import sys, tradebot.pipeline\nprint('numpy.ma' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_the_data_check_reads_every_bar_only_for_what_the_script_uses(monkeypatch, tmp_path: Path) -> None:
    # The interval (a pass over every timestamp) only for an `@ timeframe`; the price scale (a
    # median: a sort of every close) only for a constant price distance.
    from tradebot import pipeline
    from tradebot.lang import data_fit

    passes: list[str] = []
    infer, scale = data_fit.infer_interval_ms, data_fit.PriceScale.of
    monkeypatch.setattr(data_fit, "infer_interval_ms", lambda stamps: passes.append("interval") or infer(stamps))
    monkeypatch.setattr(data_fit.PriceScale, "of", classmethod(lambda cls, bars: passes.append("scale") or scale(bars)))
    bars = pipeline.load_bars(pipeline.bundled_data_path())
    for text, expected in [("enter long when close > sma(close, 10)\n", []),
                           ("enter long when close > sma(close, 10) @ 4h\n", ["interval"]),
                           ("enter long when close > sma(close, 10)\nstop_loss 5\n", ["scale"])]:
        passes.clear()
        script = tmp_path / "s.tbs"
        script.write_text(text)
        pipeline.check_data(pipeline.load_strategy(script), bars)
        assert passes == expected, text


# Run in a process of its own: it sets the SIGINT handler and sends itself SIGINT.
_ONE_PRESS_ONE_INTERRUPT = """
import os, signal, sys, threading, time
import polars as pl
from tradebot import __main__ as entry

entry.install_interrupt_handlers()
assert signal.getsignal(signal.SIGINT) is entry.interrupt, signal.getsignal(signal.SIGINT)
frame = pl.DataFrame({"x": range(2_000_000)})
query = frame.lazy().select(pl.col("x").cast(pl.String).str.len_bytes().sum())
counts = {"raised": 0, "again": 0}
for delay in (0.005, 0.01, 0.02, 0.03, 0.05) * 3:
    press = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    press.start()
    try:
        try:
            query.collect()
            time.sleep(1)  # the press comes here if the query was quicker
        except KeyboardInterrupt:
            counts["raised"] += 1
            time.sleep(0.05)  # where Polars' second raise of the same press would land
    except KeyboardInterrupt:
        counts["again"] += 1
    press.join()
print(counts["raised"], counts["again"])
"""


def test_one_ctrl_c_inside_a_polars_call_is_one_keyboard_interrupt() -> None:
    """Under Python's default SIGINT handler Polars raises a press that lands in one of its calls a
    second time, and the second KeyboardInterrupt cut the "interrupted" line short with a
    traceback (caught by tests/optimize/test_cli.py's Ctrl-C test, now and then). The entry point
    installs a handler of its own, under which each press is raised once."""
    done = subprocess.run([sys.executable, "-c", _ONE_PRESS_ONE_INTERRUPT], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    raised, again = map(int, done.stdout.split()[-2:])
    assert (raised, again) == (15, 0)
