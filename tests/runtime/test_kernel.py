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
        order = kernel.decide(SIDE_CODES[side], *flags)
        assert (order.exit_reason, order.entry_side) == (REASON_CODES[close], SIDE_CODES[opening]), flags


def test_decide_spot_checks():
    # Held long, exit and opposite entry on one bar: closed for the exit rule, then reversed.
    assert kernel.decide(kernel.LONG, False, True, True, False) == (kernel.EXIT_SIGNAL, kernel.SHORT)
    # Held short, enter long alone: a reversal.
    assert kernel.decide(kernel.SHORT, True, False, False, False) == (kernel.EXIT_REVERSAL, kernel.LONG)
    # Held long, enter long again: ignored (no pyramiding).
    assert kernel.decide(kernel.LONG, True, False, False, False) == (kernel.NO_EXIT, kernel.FLAT)


def test_fill_price_moves_against_the_trader():
    assert kernel.fill_price(100.0, 1, 0.01) == pytest.approx(101.0)
    assert kernel.fill_price(100.0, -1, 0.01) == pytest.approx(99.0)


def test_open_and_close_keep_cash_accounting_exact():
    book = kernel.flat_book(1000.0)
    long = kernel.open_position(book, kernel.LONG, 3, 50.0, 0.01, 0.0)
    assert long.qty == pytest.approx(1000.0 / (50.0 * 1.01))
    assert long.cash == pytest.approx(0.0, abs=1e-9)
    assert kernel.mark(long, 60.0) == pytest.approx(long.qty * 60.0)
    flat, fill, fee = kernel.close_position(long, 60.0, 0.01, 0.0)
    assert (fill, fee) == (60.0, pytest.approx(0.01 * long.qty * 60.0))
    assert flat.cash == pytest.approx(long.qty * 60.0 * 0.99) and flat.side == kernel.FLAT


def test_open_position_refuses_without_positive_equity():
    book = kernel.flat_book(-5.0)
    assert kernel.open_position(book, kernel.SHORT, 0, 10.0, 0.0, 0.0) == book


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


def test_importing_the_runtime_does_not_import_numba():
    code = "import sys, tradebot.runtime; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("mutate", "error"), [
    (lambda bars, sig: (bars.drop("close"), sig), ValueError),
    (lambda bars, sig: (bars.head(0), Signals.none(0)), ValueError),
    (lambda bars, sig: (bars, Signals.none(3)), ValueError),
    (lambda bars, sig: (bars.with_columns(bars["open"] * 0), sig), ValueError),
    (lambda bars, sig: (bars.with_columns(bars["timestamp"].dt.epoch("ms")), sig), TypeError),
    (lambda bars, sig: (bars.reverse(), sig), ValueError),
])
def test_contract_violations_are_rejected(mutate, error):
    bars, signals = mutate(make_bars([1, 2], [1, 2]), Signals.none(2))
    with pytest.raises(error):
        run_backtest(bars, signals)


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
