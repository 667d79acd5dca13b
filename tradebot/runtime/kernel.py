"""The compiled per-bar loop: signals in, fills and trades out.

Position and cash are path dependent (each entry is sized from the equity the previous trades
left), so the simulation is a loop; it runs in numba's nopython mode with an on-disk cache
(`cache=True`), never bar by bar in Python. Everything it needs arrives as plain numpy arrays and
float scalars, and everything it produces leaves as arrays; `engine.py` builds the DataFrames.

The loop is a small state machine. Its state is a `Book` (cash and the open position) and the
`Order` decided at the previous close. Each bar goes through the same phases, in this order:

1. open     - fill the order decided at the previous close at this bar's open: first its exit,
               then its entry (`_execute`);
2. intrabar - empty for now: issue 4 adds stops, targets and trailing exits here, tested against
               high/low, with the fill policy choosing the order of touches;
3. close    - on the last bar, close any open position at this close ("end_of_data": there is no
               next open to fill at); then mark the book (equity and position arrays);
4. decide   - turn this bar's signals into the order for the next open (`decide`). On the last
               bar that order is never filled, which is how a last-bar signal is ignored.

Every transition is a pure function of its arguments (`decide`, `fill_price`, `entry_quantity`,
`open_position`, `close_position`, `mark`). Only `_record` (a closed trade's row) and `simulate`
(the per-bar equity and position) write to the output arrays.

Why the helpers live in this one module: numba's cache checks only the timestamp of the file that
defines the cached function. Helpers imported from another module would be inlined into the
cached `simulate`, and editing them would leave a stale compiled kernel on disk.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

# Position sides; also the sign of the position quantity.
FLAT = 0
LONG = 1
SHORT = -1

# Exit reasons, stored as small integers in the trade records. The code is the index into
# EXIT_REASONS. Issue 4 appends "stop", "target", "trailing" and "time"; codes never change meaning.
NO_EXIT = -1
EXIT_SIGNAL = 0
EXIT_REVERSAL = 1
EXIT_END_OF_DATA = 2
EXIT_REASONS = ("signal", "reversal", "end_of_data")

# Columns of the trade record matrix returned by `simulate` (all float64: bar numbers stay exact
# far beyond any realistic bar count, and one matrix keeps the record writing in one place).
T_SIDE = 0
T_ENTRY_BAR = 1
T_EXIT_BAR = 2
T_ENTRY_PRICE = 3
T_EXIT_PRICE = 4
T_QTY = 5
T_ENTRY_FEE = 6
T_EXIT_FEE = 7
T_REASON = 8
TRADE_FIELDS = 9

# The whole account: free cash and at most one open position (no pyramiding).
# `qty` is the absolute quantity; the signed position is side * qty.
Book = namedtuple("Book", ("cash", "side", "qty", "entry_bar", "entry_price", "entry_fee"))

# What to do at the next open: close the position (for `exit_reason`, NO_EXIT for none), then
# open `entry_side` (FLAT for none). Issue 4 adds the order type and limit/stop price here.
Order = namedtuple("Order", ("exit_reason", "entry_side"))


@njit(cache=True)
def flat_book(cash):
    """A book with no position."""
    return Book(cash, FLAT, 0.0, -1, 0.0, 0.0)


@njit(cache=True)
def decide(side, enter_long, exit_long, enter_short, exit_short):
    """The order for the next open, from the held side and one bar's four signals.

    Precedence (docs/execution.md, "Precedence"): an entry is void when the exit of its own
    direction fires on the same bar, or when the opposite entry fires too (the two cancel). An
    entry in the held direction is ignored (no pyramiding); an entry against it is a reversal.
    """
    want_long = enter_long and not exit_long and not enter_short
    want_short = enter_short and not exit_short and not enter_long
    if side == LONG:
        return _order_from_position(exit_long, want_short, SHORT)
    if side == SHORT:
        return _order_from_position(exit_short, want_long, LONG)
    # Flat: at most one of the two survives the rules above.
    return Order(NO_EXIT, LONG if want_long else (SHORT if want_short else FLAT))


@njit(cache=True)
def _order_from_position(exit_held, want_opposite, opposite):
    """The order while holding a position: its exit signal, a reversal, or nothing."""
    entry = opposite if want_opposite else FLAT
    if exit_held:
        # The exit rule fired: that is the reason even when an opposite entry follows it.
        return Order(EXIT_SIGNAL, entry)
    if want_opposite:
        return Order(EXIT_REVERSAL, entry)
    return Order(NO_EXIT, FLAT)


@njit(cache=True)
def fill_price(price, direction, slippage):
    """Price paid for a buy (direction +1) or received for a sell (-1): slippage hurts both."""
    return price * (1.0 + direction * slippage)


@njit(cache=True)
def entry_quantity(equity, price, fee):
    """All-in sizing: the quantity whose cost plus entry fee equals the equity.

    qty * price * (1 + fee) = equity, so a long entry leaves cash at ~0.
    """
    return equity / (price * (1.0 + fee))


@njit(cache=True)
def open_position(book, side, bar, price, fee, slippage):
    """Enter `side` at reference `price` (an open) with all the (flat) book's cash.

    A long pays qty * fill + fee; a short is credited qty * fill - fee (the sale's proceeds).
    With no positive equity left nothing can be sized, and the book stays flat.
    """
    if book.cash <= 0.0:
        return book
    fill = fill_price(price, side, slippage)
    qty = entry_quantity(book.cash, fill, fee)
    entry_fee = fee * qty * fill
    cash = book.cash - side * qty * fill - entry_fee
    return Book(cash, side, qty, bar, fill, entry_fee)


@njit(cache=True)
def close_position(book, price, fee, slippage):
    """Close the open position at reference `price`: (flat book, exit fill, exit fee).

    Closing a long sells (direction -1), closing a short buys (+1).
    """
    fill = fill_price(price, -book.side, slippage)
    exit_fee = fee * book.qty * fill
    cash = book.cash + book.side * book.qty * fill - exit_fee
    return flat_book(cash), fill, exit_fee


@njit(cache=True)
def mark(book, price):
    """Equity marked to market: cash plus the signed position valued at `price`."""
    return book.cash + book.side * book.qty * price


@njit(cache=True)
def _record(trades, k, book, exit_bar, exit_fill, exit_fee, reason):
    """Write the trade that `book` held and that just closed into row `k`."""
    trades[k, T_SIDE] = book.side
    trades[k, T_ENTRY_BAR] = book.entry_bar
    trades[k, T_EXIT_BAR] = exit_bar
    trades[k, T_ENTRY_PRICE] = book.entry_price
    trades[k, T_EXIT_PRICE] = exit_fill
    trades[k, T_QTY] = book.qty
    trades[k, T_ENTRY_FEE] = book.entry_fee
    trades[k, T_EXIT_FEE] = exit_fee
    trades[k, T_REASON] = reason


@njit(cache=True)
def _execute(book, order, trades, k, bar, price, fee, slippage):
    """Fill `order` at reference `price` of `bar`: exit first, then entry. Returns (book, k)."""
    if order.exit_reason != NO_EXIT and book.side != FLAT:
        held = book
        book, exit_fill, exit_fee = close_position(held, price, fee, slippage)
        _record(trades, k, held, bar, exit_fill, exit_fee, order.exit_reason)
        k += 1
    if order.entry_side != FLAT and book.side == FLAT:
        book = open_position(book, order.entry_side, bar, price, fee, slippage)
    return book, k


@njit(cache=True)
def simulate(open_, close, enter_long, exit_long, enter_short, exit_short,
             capital, fee, slippage):
    """Run the state machine over all bars.

    Returns (trades, equity, position): `trades` is a (k, TRADE_FIELDS) matrix of closed trades
    in closing order; `equity` and `position` hold each bar's marked equity and signed quantity
    after that bar's fills.
    """
    n = open_.shape[0]
    # A bar closes at most one trade, except the last (a reversal at its open, then the
    # end-of-data close), so n + 1 rows always suffice.
    trades = np.empty((n + 1, TRADE_FIELDS))
    equity = np.empty(n)
    position = np.empty(n)
    book = flat_book(capital)
    order = Order(NO_EXIT, FLAT)
    k = 0
    for t in range(n):
        book, k = _execute(book, order, trades, k, t, open_[t], fee, slippage)
        if t == n - 1:
            book, k = _execute(book, Order(EXIT_END_OF_DATA, FLAT), trades, k, t, close[t],
                               fee, slippage)
        equity[t] = mark(book, close[t])
        position[t] = book.side * book.qty
        order = decide(book.side, enter_long[t], exit_long[t], enter_short[t], exit_short[t])
    return trades[:k].copy(), equity, position
