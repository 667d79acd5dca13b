"""Position state in rules and risk values (docs/language.md, "Position state"): hand-worked
cases per value, the compiled engine against a naive bar-by-bar oracle on random scripts, prefix
invariance, and the machine code shared by every script."""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from unittest import mock

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, reject, settings, strategies as st

from tests.lang.strategies import ohlcv
from tests.runtime.position_reference import naive_position_backtest
from tests.runtime.support import make_bars
from tradebot.errors import UserError
from tradebot.market.vocab import EXIT_REASONS
from tradebot import pipeline
from tradebot.pipeline import backtest, compile_source, position_program, rule_program
from tradebot.runtime import kernel, program as program_module
from tradebot.runtime.program import kernel_program

ROOT = Path(__file__).resolve().parents[2]
approx = pytest.approx


def run(source: str, bars: pl.DataFrame) -> list[dict]:
    return backtest(compile_source(source, "s.tbs"), bars).trades.to_dicts()


def brief(trades: list[dict]) -> list[tuple]:
    return [(t["entry_bar"], t["exit_bar"], t["entry_price"], t["exit_price"], t["exit_reason"]) for t in trades]


def test_the_kernel_names_the_interpreter_it_was_compiled_with():
    """numba's cache of kernel.py does not see edits of tradebot/vm: editing it must edit this."""
    digest = hashlib.sha256(b"".join((ROOT / "tradebot" / "vm" / f).read_bytes()
                                     for f in ("interp.py", "registers.py"))).hexdigest()[:16]
    assert kernel.VM_DIGEST == digest, f"set kernel.VM_DIGEST = {digest!r}"


def test_the_language_knows_the_engines_exit_reasons():
    assert EXIT_REASONS == kernel.EXIT_REASONS


# ---------------------------------------------------------------- hand-worked


def test_chandelier_exit_step_by_step():
    """`highest_since_entry(high)` starts at the entry bar and restarts with the next position."""
    rows = [  # open, high, low, close; what the rule sees at the close
        (100, 101, 99, 100),   # 0 enter signal
        (100, 104, 99, 103),   # 1 filled at 100; highest 104, 103 < 101? no
        (103, 108, 102, 107),  # 2 highest 108, 107 < 105? no
        (107, 110, 106, 106),  # 3 highest 110, 106 < 107: exit at the next open
        (105, 106, 104, 105),  # 4 exit at 105; enter signal again
        (105, 106, 103, 104),  # 5 filled at 105; highest 106 (not 110), 104 < 103? no
        (104, 109, 104, 108),  # 6 highest 109, 108 < 106? no
        (108, 108, 104, 105),  # 7 105 < 106: exit at the next open
        (104, 105, 103, 104),  # 8 exit at 104
        (104, 105, 103, 104),  # 9
    ]
    o, h, l, c = (list(col) for col in zip(*rows))
    bars = make_bars(o, c, highs=h, lows=l)
    source = ("enter long when bar_index == 0 or bar_index == 4\n"
              "exit long when close < highest_since_entry(high) - 3\n")
    assert brief(run(source, bars)) == [(1, 4, 100.0, 105.0, "signal"), (5, 8, 105.0, 104.0, "signal")]


def test_bars_since_entry_is_not_reset_by_an_added_entry():
    bars = make_bars([100.0] * 8, [100.0] * 8)
    source = ("pyramiding 2\nsize 40% of equity\n"
              "enter long when bar_index == 0 or bar_index == 2\n"
              "exit long when open_entries == 2 and bars_since_entry >= 3\n")
    # Entries fill at bars 1 and 3; bars_since_entry is 0, 1, 2, 3 on bars 1..4 (3 on bar 4,
    # counted from the first entry), so both lots leave at bar 5's open.
    assert [(t["entry_bar"], t["exit_bar"]) for t in run(source, bars)] == [(1, 5), (3, 5)]


def test_open_profit_pct_counts_the_entry_fee():
    closes = [100, 101.05, 101.2, 101.3, 101.3]
    bars = make_bars([100, 100, 101, 101.25, 101.3], closes)
    source = "fee 0.1%\nenter long when bar_index == 0\nexit long when open_profit_pct > 1%\n"
    # qty = 10000 / (100 * 1.001); the entry fee is 0.1% of qty * 100, so at a close c the open
    # profit is qty * (c - 100) - 0.001 * qty * 100 and its fraction (c - 100) / 100 - 0.001:
    # 0.0095 at 101.05 (1.05% without the fee), 0.011 at 101.2: the exit fills at bar 3.
    [trade] = run(source, bars)
    qty = 10_000 / (100 * 1.001)
    assert (trade["entry_bar"], trade["exit_bar"], trade["qty"]) == (1, 3, approx(qty))
    exit_fee = 0.001 * qty * 101.25
    assert trade["pnl"] == approx(qty * 1.25 - 0.001 * qty * 100 - exit_fee)


def test_a_stop_at_the_entry_price_moves_from_the_bar_after_the_entry():
    o = [100, 100, 99, 97, 97, 97, 97, 98]
    c = [100, 99, 98, 97, 97, 97, 98, 98]
    lows = [100, 97, 97.5, 97, 97, 97, 97, 98]
    bars = make_bars(o, c, lows=lows)
    source = ("stop_loss long at entry_price - 2\n"
              'enter long when bar_index == 0 or (last_exit_reason == "stop" and bars_since_exit == 2)\n')
    # Filled at 100 on bar 1, whose low 97 does not stop it (the stop is set at its close: 98);
    # bar 2 opens at 99 and reaches 97.5: stopped at 98. Two bars later (bar 4) the rule enters
    # again: filled at bar 5's open, held to the end.
    trades = run(source, bars)
    assert brief(trades) == [(1, 2, 100.0, 98.0, "stop"), (5, 7, 97.0, 98.0, "end_of_data")]


def test_entry_time_and_position_values_while_flat():
    bars = make_bars([100.0] * 7, [100.0] * 7)
    source = ("enter long when position_side == 0 and position_size == 0 and bars_since_exit == 0 "
              "or bar_index == 0\n"
              "exit long when time - entry_time >= 2 * 3600000 and entry_bar == bar_index - 2\n")
    # In at bar 1, out at bar 4 (two hours after the entry bar's open, at bar 3's close); flat at
    # bar 4's close with its exit on that bar (bars_since_exit 0): in again at bar 5, held to the end.
    assert [(t["entry_bar"], t["exit_bar"]) for t in run(source, bars)] == [(1, 4), (5, 6)]


def test_a_recursion_reading_position_state_and_a_past_value():
    bars = make_bars([100, 100, 101, 102, 101, 100, 99, 100], [100, 101, 102, 101, 100, 99, 100, 100])
    source = ("gain = if position_side != 0 and close > close[1] then gain[1] + 1 else gain[1] starting 0\n"
              "enter long when bar_index == 0\n"
              "exit long when gain >= 2 and open_profit < open_profit[1]\n")
    # Held from bar 1 (filled at 100); up closes at bars 1 and 2: gain 2 from bar 2; the open
    # profit falls at bar 3 (101 < 102): out at bar 4's open.
    assert brief(run(source, bars)) == [(1, 4, 100.0, 101.0, "signal")]


# ---------------------------------------------------------------- against the naive oracle

# State-free conditions (the compiler's random expressions are tested against the reference in
# tests/lang; here the point is the position values and their interplay with the fills).
CONDITION = st.sampled_from(("close > open", "close < open", "close > sma(close, 3)", "rsi(close, 3) < 40",
                             "close > close[1]", "high > highest(high, 3)[1]", "true", "bar_index % 3 == 0",
                             "low < lowest(low, 2)[1]"))
ATOMS = ("bars_since_entry >= {k}", "open_profit_pct < -{p}%", "open_profit_pct > {p}%",
         "close < highest_since_entry(high) - {m}", "close > lowest_since_entry(low) + {m}",
         "open_entries >= 2", "bars_since_exit > {k}", 'last_exit_reason == "signal"',
         'last_exit_reason != "stop"', "position_side == 0", "position_size > 0", "entry_price > close",
         "open_profit crosses below 0", "bars_since_entry[1] >= {k}", "time - entry_time >= {k} * 3600000",
         "held > {k}", "entry_bar + {k} < bar_index", "run > {k}", "run < {k}",
         "held[2] >= {k}", "run[3] == {k}")
# A second recursion every bar needs: constant while flat (the engine writes its value on a flat
# bar instead of running the program: lang/stateful/flat.py), or not.
RECURSIONS = ("run = if position_size > 0 then run[1] + 1 else 0 starting 0",
              "run = if open_entries == 0 then -1 else run[1] + 1 starting 0",
              "run = if position_side == 0 or run[1] > 3 then 0 else run[1] + 1 starting 0",
              "run = if bars_since_exit > 2 then run[1] + 1 else 0 starting 0",
              "run = if position_side != 0 then run[1] + 1 else entry_price starting 0",
              "run = if position_side == 0 then 0 else max(run[1], bars_since_entry) starting 0")


@st.composite
def position_condition(draw) -> str:
    atom = draw(st.sampled_from(ATOMS)).format(k=draw(st.integers(0, 4)), p=draw(st.sampled_from([0.1, 0.5, 1])),
                                               m=draw(st.sampled_from([0.5, 1, 2])))
    glue = draw(st.sampled_from(["{a}", "{a} and {b}", "{a} or {b}", "not ({a})"]))
    return glue.format(a=atom, b=draw(CONDITION))


@st.composite
def position_scripts(draw) -> tuple[str, float, float, float, int]:
    fee, slippage = draw(st.sampled_from([0.0, 0.001])), draw(st.sampled_from([0.0, 0.002]))
    size, pyramiding = draw(st.sampled_from([0.3, 0.5])), draw(st.integers(1, 3))
    lines = [f"fee {fee * 100}%", f"slippage {slippage * 100}%", f"size {size * 100}% of equity",
             f"pyramiding {pyramiding}", "held = if position_side != 0 then held[1] + 1 else 0 starting 0",
             draw(st.sampled_from(RECURSIONS))]
    for rule in ("enter long", "exit long", "enter short", "exit short"):
        lines.append(f"{rule} when {draw(position_condition() if draw(st.booleans()) else CONDITION)}")
    for side, sign in (("long", "-"), ("short", "+")):
        if draw(st.booleans()):
            lines.append(f"stop_loss {side} at entry_price {sign} {draw(st.sampled_from([0.5, 1, 2]))}")
    return "\n".join(lines) + "\n", fee, slippage, size, pyramiding


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(position_scripts(), ohlcv(min_bars=5, max_bars=40))
def test_the_engine_equals_the_naive_bar_by_bar_oracle(script, bars):
    text, fee, slippage, size, pyramiding = script
    strategy = compile_source(text, "random.tbs")
    got = _trades_or_reject(strategy, bars)
    checked = strategy.checked
    stops = {sign: checked.risk.side(side).levels["stop_loss"].value
             for side, sign in (("long", 1), ("short", -1)) if "stop_loss" in checked.risk.side(side).levels}
    expected = naive_position_backtest(bars, dict(checked.signals), stops, capital=10_000.0, fee=fee,
                                       slippage=slippage, size=size, pyramiding=pyramiding)
    keys = ("side", "entry_bar", "exit_bar", "exit_reason")
    assert [tuple(t[k] for k in keys) for t in got] == [tuple(t[k] for k in keys) for t in expected], text
    for mine, theirs in zip(got, expected):
        for key in ("entry_price", "exit_price", "qty"):
            assert mine[key] == approx(theirs[key], rel=1e-9), (key, text)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(position_scripts(), ohlcv(min_bars=5, max_bars=40), st.data())
def test_prefix_invariance_with_position_state(script, bars, data):
    """Trades settled on the first m bars equal those of a run on all the bars."""
    strategy = compile_source(script[0], "random.tbs")
    m = data.draw(st.integers(2, bars.height), label="prefix length")
    _trades_or_reject(strategy, bars.head(m))
    full, prefix = backtest(strategy, bars), backtest(strategy, bars.head(m))
    by_signal = pl.col("exit_reason") != "end_of_data"
    settled = full.trades.filter(by_signal, pl.col("exit_bar") <= m - 1)
    assert prefix.trades.filter(by_signal).rows() == settled.rows()
    assert prefix.equity["equity"].to_list()[:-1] == full.equity["equity"].to_list()[:m - 1]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(position_scripts(), ohlcv(min_bars=5, max_bars=40))
def test_running_only_the_members_a_bar_needs_equals_running_them_all(script, bars):
    """The engine skips an exit rule's member while it cannot matter (`program.segment_needs`,
    `kernel.bar_needs`): the same run with every member on every bar is identical."""
    strategy = compile_source(script[0], "random.tbs")
    lazy = _trades_or_reject(strategy, bars)
    every_bar = lambda code, consts, segments, slots: np.full(len(segments), kernel.NEED_ALWAYS)  # noqa: E731
    with mock.patch.object(program_module, "segment_needs", every_bar):
        full = backtest(strategy, bars)
    assert lazy == full.trades.to_dicts(), script[0]


@st.composite
def flat_scripts(draw) -> str:
    """Scripts whose rules read a recursion's past from before the entry (`held[3]` on the entry's
    bar): where a bar flat with nothing to enter got the member's flat value written, not run.
    Entries are rare, so such bars exist."""
    past = draw(st.sampled_from(["held", "run"])) + f"[{draw(st.integers(2, 5))}]"
    test = f"{past} {draw(st.sampled_from(['==', '>=', '<']))} {draw(st.integers(-1, 2))}"
    # Missing while flat: the exit does not void the entry on its signal bar.
    rules = [f"enter long when {draw(st.sampled_from(RARE))}", f"exit long when bars_since_entry >= 1 and {test}",
             f"enter short when {draw(st.sampled_from(RARE))}",  # an entry reading the position runs every bar
             f"exit short when {draw(position_condition())}"]
    return "\n".join(["held = if position_side != 0 then held[1] + 1 else 0 starting 0",
                      draw(st.sampled_from(RECURSIONS)), *rules]) + "\n"


RARE = ("bar_index % 5 == 2", "bar_index % 7 == 0", "close > highest(high, 3)[1]", "close < lowest(low, 4)[1]")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(flat_scripts(), position_scripts().map(lambda script: script[0])), ohlcv(min_bars=5, max_bars=40))
def test_writing_the_members_flat_values_equals_running_the_program(script, bars):
    """On a bar flat since the last close with nothing to enter, the engine writes the value of a
    member that is a constant there (`kernel.flat_members`) instead of running the program: the
    same run with no member known to be constant is identical."""
    strategy = compile_source(script, "random.tbs")
    written = _trades_or_reject(strategy, bars)
    real = pipeline.position_program

    def no_constants(checked):
        program = real(checked)
        return program and dataclasses.replace(program, flat=np.full(len(program.flat), np.nan))

    with mock.patch.object(pipeline, "position_program", no_constants):
        run_every_bar = backtest(strategy, bars)
    assert written == run_every_bar.trades.to_dicts(), script


def test_a_flat_value_is_written_only_where_every_bar_needs_it():
    """Hand-worked: `held` is 0 while flat, so a flat bar with nothing to enter runs no member:
    the engine writes held's 0 on bars 0-2 and reads it back from the entry on."""
    source = ("held = if position_side != 0 then held[1] + 1 else 0 starting 0\n"
              "enter long when bar_index == 3\n"
              "exit long when held[4] == 0 and held >= 2\n")
    program = position_program(compile_source(source, "s.tbs").checked)
    assert program.flat.tolist()[0] == 0.0
    bars = make_bars([100.0] * 10, [100.0] * 10)
    # Filled at bar 4's open; held is 1 at bar 4's close, 2 at bar 5's, when held[4] is bar 1's
    # 0: out at bar 6's open.
    assert brief(run(source, bars)) == [(4, 6, 100.0, 100.0, "signal")]


def test_segment_needs_of_a_chandelier_program():
    """Hand-worked: a recursion whose past is read runs on every bar (and feeds the exit rule); an exit rule's member
    only for its signal; the moving stop's member only while long."""
    source = ("held = if position_side != 0 then held[1] + 1 else 0 starting 0\n"
              "stop_loss long at entry_price - 2\n"
              "enter long when close > open\n"
              "exit long when held > 3 and close < highest_since_entry(high) - 1\n")
    strategy = compile_source(source, "s.tbs")
    prog = rule_program(position_program(strategy.checked), None)
    _, arrays = kernel_program(prog, strategy.execution(), np.zeros(kernel.R_SLOTS, np.int64))
    needs = dict(zip(prog.segments[:, 0].tolist(), arrays[kernel.PR_NEEDS].tolist()))
    assert needs == {0: kernel.NEED_ALWAYS | kernel.NEED_SIGNAL << 1, prog.outputs["exit_long"]: kernel.NEED_SIGNAL << 1,
                     prog.outputs["long.stop_loss"]: kernel.NEED_LONG_LEVELS}


def _trades_or_reject(strategy, bars) -> list[dict]:
    """The run's trades; a generated script whose window is longer than the bars is skipped."""
    try:
        return backtest(strategy, bars).trades.to_dicts()
    except UserError:
        reject()


def test_a_script_without_position_state_has_no_program():
    assert position_program(compile_source("enter long when close > open\n", "s.tbs").checked) is None


def test_the_report_leaves_position_series_out_of_its_charts():
    from tradebot.report.runs import backtest_for_report

    bars = make_bars([100.0 + i % 3 for i in range(12)], [100.5 + i % 4 for i in range(12)])
    strategy = compile_source("held = if position_side != 0 then held[1] + 1 else 0 starting 0\nr = close * 2\n"
                              "stop_loss long at entry_price - 5\nenter long when close > open\n"
                              "exit long when held > 2\n", "s.tbs")
    data = backtest_for_report(strategy, bars)
    assert set(data.series) == {"r"} and set(data.levels) == {"long.stop_loss"}
    assert data.result.trades.height == backtest(strategy, bars).trades.height > 0
