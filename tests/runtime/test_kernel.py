"""The kernel's pure transitions, its compilation (one cached signature) and input checking."""
from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from tests.runtime.reference import orders_for
from tests.runtime.support import make_bars, make_signals
from tradebot.runtime import ExecutionConfig, Signals, run_backtest
from tradebot.runtime import kernel

SIDE_CODES = {None: kernel.FLAT, "long": kernel.LONG, "short": kernel.SHORT}
REASON_CODES = {None: kernel.NO_EXIT, "signal": kernel.EXIT_SIGNAL,
                "reversal": kernel.EXIT_REVERSAL}


@pytest.mark.parametrize("side", [None, "long", "short"])
def test_decide_matches_the_precedence_rules_on_all_48_cases(side):
    for flags in itertools.product([False, True], repeat=4):
        close, opening = orders_for(side, *flags)
        order = kernel.decide(SIDE_CODES[side], False, *flags)
        assert (order.exit_reason, order.entry_side) == (REASON_CODES[close], SIDE_CODES[opening]), flags


def test_decide_spot_checks():
    # Held long, exit and opposite entry on one bar: closed for the exit rule, then reversed.
    assert kernel.decide(kernel.LONG, False, False, True, True, False)[:2] == (kernel.EXIT_SIGNAL, kernel.SHORT)
    # Held short, enter long alone: a reversal.
    assert kernel.decide(kernel.SHORT, False, True, False, False, False)[:2] == (kernel.EXIT_REVERSAL, kernel.LONG)
    # Held long, enter long again: ignored without pyramiding room, another lot with it.
    assert kernel.decide(kernel.LONG, False, True, False, False, False)[:2] == (kernel.NO_EXIT, kernel.FLAT)
    assert kernel.decide(kernel.LONG, True, True, False, False, False)[:2] == (kernel.NO_EXIT, kernel.LONG)
    # ... but never when its own exit fires too.
    assert kernel.decide(kernel.LONG, True, True, True, False, False)[:2] == (kernel.EXIT_SIGNAL, kernel.FLAT)


def test_fill_price_moves_against_the_trader():
    assert kernel.fill_price(100.0, 1, 0.01, 0.0) == pytest.approx(101.0)
    assert kernel.fill_price(100.0, -1, 0.01, 0.0) == pytest.approx(99.0)
    assert kernel.fill_price(100.0, 1, 0.0, 0.5) == pytest.approx(100.5)     # ticks, half a spread
    assert kernel.fill_price(100.0, -1, 0.01, 0.5) == pytest.approx(98.5)


def test_size_lot_all_in_spends_the_equity_with_its_fee():
    costs = kernel.Costs(0.01, 0.0, 0.0, 0.0, 0.0, 0.0)
    qty = kernel.size_lot(1000.0, 0.0, 50.0, np.nan, costs, kernel.S_EQUITY, 1.0, 1.0, 0.0, 0.0)
    assert qty == pytest.approx(1000.0 / (50.0 * 1.01))          # qty * 50 * 1.01 = 1000


def test_size_lot_refuses_without_positive_equity():
    costs = kernel.Costs(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert kernel.size_lot(-5.0, 0.0, 10.0, np.nan, costs, kernel.S_EQUITY, 1.0, 1.0, 0.0, 0.0) == 0.0


def test_one_compiled_signature_whatever_the_input_arrays():
    bars = make_bars([1, 2, 3, 4], [1, 2, 3, 4])
    writable = make_signals(4, enter_long=[0])
    readonly = [a.copy() for a in writable.arrays()]
    for array in readonly:
        array.flags.writeable = False
    run_backtest(bars, writable, ExecutionConfig(capital=100))
    run_backtest(bars, Signals(*readonly), ExecutionConfig(capital=100, fee=0.001))
    run_backtest(bars.with_columns(bars["open"].cast(int).cast(float)), writable)
    assert len(kernel.simulate.signatures) == 1


def test_exit_reason_codes_are_only_ever_appended():
    # Stored results and reports rely on these codes: new reasons go at the end.
    assert kernel.EXIT_REASONS[:3] == ("signal", "reversal", "end_of_data")
    codes = [kernel.EXIT_SIGNAL, kernel.EXIT_REVERSAL, kernel.EXIT_END_OF_DATA, kernel.EXIT_STOP,
             kernel.EXIT_TARGET, kernel.EXIT_TRAILING, kernel.EXIT_TIME, kernel.EXIT_LIQUIDATION]
    assert [kernel.EXIT_REASONS[c] for c in codes] == ["signal", "reversal", "end_of_data", "stop",
                                                       "target", "trailing", "time", "liquidation"]


def test_importing_the_runtime_does_not_import_numba():
    code = "import sys, tradebot.runtime; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("mutate", "error"), [
    (lambda bars, sig: (bars.drop("close"), sig), ValueError),
    (lambda bars, sig: (bars.head(0), Signals.none(0)), ValueError),
    (lambda bars, sig: (bars, Signals.none(3)), ValueError),
    (lambda bars, sig: (bars.with_columns(bars["open"] * 0), sig), ValueError),
    (lambda bars, sig: (bars.with_columns(bars["low"] * float("nan")), sig), ValueError),
    (lambda bars, sig: (bars.with_columns(bars["timestamp"].dt.epoch("ms")), sig), TypeError),
    (lambda bars, sig: (bars.reverse(), sig), ValueError),
    (lambda bars, sig: (bars.with_columns(bars["timestamp"].head(1).append(bars["timestamp"].head(1))), sig),
     ValueError),  # the same time twice
])
def test_contract_violations_are_rejected(mutate, error):
    bars, signals = mutate(make_bars([1, 2], [1, 2]), Signals.none(2))
    with pytest.raises(error):
        run_backtest(bars, signals)


def test_times_in_another_unit_are_compared_as_times():
    bars = make_bars([1, 2, 3], [1, 2, 3])
    in_us = bars.with_columns(bars["timestamp"].dt.cast_time_unit("us"))
    assert run_backtest(in_us, Signals.none(3)).equity.height == 3


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"capital": 0}, "capital"),
    ({"fee": 0.5}, "fee"),
    ({"slippage": -0.1}, "slippage"),
    ({"fee": float("nan")}, "fee"),
])
def test_execution_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExecutionConfig(**kwargs)


def test_signals_validation():
    with pytest.raises(ValueError, match="differ in length"):
        Signals(*(np.zeros(n, dtype=bool) for n in (2, 2, 2, 3)))
    with pytest.raises(TypeError, match="booleans"):
        Signals(*(np.zeros(2) for _ in range(4)))
    assert Signals(*([0, 1] for _ in range(4))).exit_short.dtype == np.bool_


# ---------------------------------------------------------------- risk transitions, one by one
K = kernel
P, O, X = K.F_PESSIMISTIC, K.F_OPTIMISTIC, K.F_OPEN_PROXIMITY


@pytest.mark.parametrize(("policy", "touches", "gaps", "expected"), [
    # touches: (stop hit, stop sure, target hit, target sure); gaps: distances from the open
    (P, (True, True, True, True), (3, 2), (K.CHOSE_STOP, True)),
    (O, (True, True, True, True), (3, 2), (K.CHOSE_TARGET, True)),
    (X, (True, True, True, True), (3, 2), (K.CHOSE_TARGET, True)),    # target nearer the open
    (X, (True, True, True, True), (2, 3), (K.CHOSE_STOP, True)),
    (X, (True, True, True, True), (2, 2), (K.CHOSE_STOP, True)),      # a tie: the stop
    (P, (True, True, False, True), (3, 2), (K.CHOSE_STOP, False)),    # one level: no ambiguity
    (O, (False, True, True, True), (3, 2), (K.CHOSE_TARGET, False)),
    (P, (False, True, True, False), (3, 2), (K.CHOSE_NONE, True)),    # unsure target: not taken
    (O, (False, True, True, False), (3, 2), (K.CHOSE_TARGET, True)),
    (P, (True, False, False, True), (3, 2), (K.CHOSE_STOP, True)),    # unsure stop: taken
    (O, (True, False, False, True), (3, 2), (K.CHOSE_NONE, True)),
    (P, (False, True, False, True), (3, 2), (K.CHOSE_NONE, False)),
])
def test_choose_exit(policy, touches, gaps, expected):
    assert K.choose_exit(policy, *touches, *map(float, gaps)) == expected


RISK, NEW_RISK = (0.02, 0.04, 1.5, 0.01), (0.03, 0.06, 2.5, 0.02)  # stop, target, trail, b-e


@pytest.mark.parametrize(("side", "kind", "level", "bar", "expected"), [
    # bar: (open, high, low)
    (K.LONG, K.O_LIMIT, 98.0, (99, 100, 97), (98.0, K.FALLING)),
    (K.LONG, K.O_LIMIT, 98.0, (97, 99, 96), (97.0, K.AT_OPEN)),      # opened below: the open
    (K.LONG, K.O_LIMIT, 98.0, (99, 100, 98.5), (None, -1)),
    (K.LONG, K.O_STOP, 101.0, (100, 102, 99), (101.0, K.RISING)),
    (K.LONG, K.O_STOP, 101.0, (103, 104, 102), (103.0, K.AT_OPEN)),
    (K.SHORT, K.O_LIMIT, 102.0, (101, 103, 100), (102.0, K.RISING)),
    (K.SHORT, K.O_STOP, 99.0, (100, 101, 98), (99.0, K.FALLING)),
    (K.SHORT, K.O_STOP, 99.0, (98, 99, 97), (98.0, K.AT_OPEN)),
    (K.SHORT, K.O_MARKET, np.nan, (100, 101, 99), (100.0, K.AT_OPEN)),
])
def test_entry_trigger(side, kind, level, bar, expected):
    price, how = K.entry_trigger(K.Pending(side, kind, level, 0, 5, RISK), *map(float, bar))
    assert how == expected[1]
    assert (np.isnan(price) if expected[0] is None else price == expected[0])


def pend(*args):
    """`next_pending` with the new order's risk values NEW_RISK."""
    return K.next_pending(*args, NEW_RISK)


def test_next_pending_replaces_cancels_and_expires():
    standing = K.Pending(K.LONG, K.O_LIMIT, 98.0, 3, 6, RISK)
    none = K.Order(K.NO_EXIT, K.FLAT, 1.0)
    assert pend(standing, none, 4, K.O_MARKET, np.nan, 0, False, False) == standing
    assert pend(standing, none, 6, K.O_MARKET, np.nan, 0, False, False).side == K.FLAT
    assert pend(standing, none, 4, K.O_MARKET, np.nan, 0, True, False).side == K.FLAT
    assert pend(standing, none, 4, K.O_MARKET, np.nan, 0, False, True) == standing
    newer = pend(standing, K.Order(K.NO_EXIT, K.SHORT, 1.0), 4, K.O_STOP, 95.0, 2, False, False)
    assert newer == K.Pending(K.SHORT, K.O_STOP, 95.0, 4, 6, NEW_RISK)
    market = pend(standing, K.Order(K.NO_EXIT, K.LONG, 1.0), 4, K.O_MARKET, np.nan, 0, False, False)
    assert (market.kind, market.last_bar) == (K.O_MARKET, 5)
    missing = pend(standing, K.Order(K.NO_EXIT, K.LONG, 1.0), 4, K.O_LIMIT, np.nan, 0, False, False)
    assert missing.side == K.FLAT                                   # no price: nothing placed


def lot(**changes):
    fields = dict(entry_bar=0, entry_price=100.0, qty=1.0, entry_fee=0.0, stop=np.nan,
                  target=np.nan, trail_pct=np.nan, trail_dist=np.nan, best=100.0,
                  be_trigger=np.nan, how=K.AT_OPEN, ambiguous=False,
                  entry_ref=100.0)
    return K.Lot(**{**fields, **changes})


def test_stop_level_takes_the_tighter_and_says_which():
    assert K.stop_level(lot(stop=98.0, trail_pct=0.05, best=110.0), K.LONG) == (104.5, K.EXIT_TRAILING)
    assert K.stop_level(lot(stop=98.0, trail_pct=0.05, best=101.0), K.LONG) == (98.0, K.EXIT_STOP)
    assert K.stop_level(lot(trail_dist=2.0, best=95.0), K.SHORT) == (97.0, K.EXIT_TRAILING)
    assert np.isnan(K.stop_level(lot(), K.LONG)[0])


def test_see_price_tracks_the_best_price_and_arms_break_even_once():
    seen = K.see_price(lot(be_trigger=102.0), K.LONG, 101.0)
    assert (seen.best, np.isnan(seen.stop), seen.be_trigger) == (101.0, True, 102.0)
    armed = K.see_price(seen, K.LONG, 102.5)
    assert (armed.best, armed.stop, np.isnan(armed.be_trigger)) == (102.5, 100.0, True)
    assert K.see_price(armed, K.LONG, 99.0).best == 102.5              # the best never falls back
    short = K.see_price(lot(stop=103.0, be_trigger=98.0), K.SHORT, 97.0)
    assert (short.best, short.stop) == (97.0, 100.0)
