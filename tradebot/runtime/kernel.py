"""The compiled per-bar loop: signals and risk levels in, fills and trades out.

Position and cash are path dependent (each entry is sized from the equity the previous trades
left, a trailing stop follows the best price seen), so the simulation is a loop; it runs in
numba's nopython mode with an on-disk cache (`cache=True`), never bar by bar in Python. Everything
it needs arrives as numpy arrays and scalars packed by `engine.py`, and everything it produces
leaves as arrays; `engine.py` builds the DataFrames.

State: a `State` (the `Book`: cash, side, number of open lots, their total quantity; the market
`Order` decided at the previous close; the standing entry order, `Pending`: market, limit or
stop; the number of trades recorded, the equity peak, the ruin), plus two arrays: the open lots
(rows of a matrix, one `Lot` each: pyramiding opens several) and the trade records. `step`
advances a `State` over the bars it is given and returns the next one, so a run can stop and
resume after any bar (`stepper.Stepper` gives it one bar per call, `simulate` all of them). Each
bar runs these phases, the first three the venue's half (what an exchange does with the orders
it holds), the fourth the policy's (what the strategy decides):

1. open     - the pending exit (signal or reversal; a signal exit with a portion closes that part
               of every lot, `_close_part`) fills at the open, then time exits, then the
               standing entry order if it triggers: at the open (a market order, or a limit/stop
               the open gapped through) or inside the bar at its level (`entry_trigger`);
2. intrabar - every lot is tested against its stop (fixed, break-even or trailing) and target
               (`lot_exit`): a level already through at the lot's first price (the open, or
               an inside-the-bar entry's own fill price) fills there; when the bar reaches both
               levels, or a level the fill may have preceded, the fill policy decides
               (`choose_exit`) and the trade is marked ambiguous; survivors see the bar's best
               price (`see_price`: trailing peak, break-even). When the bar reaches the
               position's liquidation price (zero equity) it acts as a stop on every lot;
3. close    - on the last bar, close every lot at this close ("end_of_data"); mark the book;
               after a liquidation, or with no equity left, the account is ruined: nothing
               trades any more and the equity stays at what is left, floored at 0;
4. decide   - this bar's signals give the exit for the next open (`decide`) and the standing
               entry order (`next_pending`). On the last bar it is never filled.

Every transition is a pure function of its arguments (`decide`, `next_pending`, `entry_trigger`,
`size_lot`, `new_lot`, `lot_exit`, `choose_exit`, `stop_level`, `see_price`, `fill_price`,
`mark`). Only the `_record`/`_store` helpers and `simulate` write to arrays (the lots and
trades that `step` receives are written through them). docs/execution.md
states every rule with worked examples.

Why everything lives in this one module: numba's cache checks only the timestamp of the file that
defines the cached function. Helpers or constants imported from another module would be inlined
into the cached `simulate`, and editing them would leave a stale compiled kernel on disk.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from ..vm import registers as rg
from ..vm.interp import ring_cell, run_bar

# The interpreter and the register layout are compiled into this module's cached functions, but
# numba's cache checks only this file's timestamp: this digest of tradebot/vm/interp.py and
# registers.py makes an edit there an edit here too (tests/runtime/test_position_state.py).
VM_DIGEST = "663cb2d646e31b5f"

# Position sides; also the sign of the position quantity.
FLAT = 0
LONG = 1
SHORT = -1

# Exit reasons, stored as small integers in the trade records: the code is the index into
# EXIT_REASONS. Codes are appended, never renumbered.
NO_EXIT = -1
EXIT_SIGNAL = 0
EXIT_REVERSAL = 1
EXIT_END_OF_DATA = 2
EXIT_STOP = 3
EXIT_TARGET = 4
EXIT_TRAILING = 5
EXIT_TIME = 6
EXIT_LIQUIDATION = 7
EXIT_REASONS = ("signal", "reversal", "end_of_data", "stop", "target", "trailing", "time",
                "liquidation")

# Columns of the trade record matrix (all float64: bar numbers stay exact far beyond any
# realistic bar count, and one matrix keeps the record writing in one place).
T_SIDE = 0
T_ENTRY_BAR = 1
T_EXIT_BAR = 2
T_ENTRY_PRICE = 3
T_EXIT_PRICE = 4
T_QTY = 5
T_ENTRY_FEE = 6
T_EXIT_FEE = 7
T_REASON = 8
T_AMBIGUOUS = 9
TRADE_FIELDS = 10

# Risk level slots: `levels[side_index * R_KINDS + kind]` (long = 0, short = 1) is a per-bar array
# (or a length-1 array for a constant) read on the signal bar; `modes[...]` says how to read it.
R_STOP = 0
R_TARGET = 1
R_TRAIL = 2
R_BREAK_EVEN = 3
R_ENTRY = 4
R_PORTION = 5  # the part of the position a signal exit closes (M_PERCENT), per bar; M_NONE: all
R_KINDS = 6
R_SLOTS = 2 * R_KINDS

# Level modes (R_STOP .. R_BREAK_EVEN): absent, a fraction of the entry fill, a price distance
# from the entry fill (or from the best price, for a trailing stop), an absolute price.
M_NONE = 0
M_PERCENT = 1
M_DISTANCE = 2
M_PRICE = 3

# Entry order kinds (the mode of the R_ENTRY slot, whose level is the order's price).
O_MARKET = 0
O_LIMIT = 1
O_STOP = 2

# Fill policies for bars whose order of touches is unknown.
F_PESSIMISTIC = 0
F_OPTIMISTIC = 1
F_OPEN_PROXIMITY = 2

# Sizing modes.
S_EQUITY = 0
S_UNITS = 1
S_CASH = 2
S_RISK = 3

# How a lot was filled on its entry bar: at the open (everything after it is known to follow),
# or inside the bar on the way down to its level (the low followed the fill, the high may not
# have) or on the way up (the high followed, the low may not have).
AT_OPEN = 0
FALLING = 1
RISING = 2

# Which exit `choose_exit` picks.
CHOSE_NONE = 0
CHOSE_STOP = 1
CHOSE_TARGET = 2

# Indices of the scalar vectors `simulate` receives (engine.kernel_config builds them).
C_CAPITAL, C_FEE, C_FEE_FIXED, C_SLIPPAGE, C_SLIPPAGE_PRICE, C_SPREAD, C_SPREAD_PRICE = range(7)
C_SIZE, C_MIN_QTY, C_QTY_STEP, C_LEVERAGE = range(7, 11)
C_FIELDS = 11
# A side's laddered targets (`take_profit long 2% exit 50%`) follow the scalars in `floats`: per
# side MAX_RUNGS rungs of (mode, value, portion), long first; mode M_NONE ends the ladder. A
# `floats` vector of only C_FIELDS values has no ladder.
MAX_RUNGS = 4
RUNG_FIELDS = 3
LADDER_FIELDS = 2 * MAX_RUNGS * RUNG_FIELDS
I_SIZING, I_POLICY, I_PYRAMIDING, I_TIME_LONG, I_TIME_SHORT, I_EXPIRE_LONG, I_EXPIRE_SHORT = range(7)
I_FIELDS = 7

NEVER = np.iinfo(np.int64).max  # the last bar of an entry order without expiry

# The account: free cash, the side held, how many lots are open and their total quantity.
Book = namedtuple("Book", ("cash", "side", "lots", "qty"))

# One open entry (a trade until it closes). `stop` is the fixed stop (moved to the entry price by
# break-even); the trailing level is derived from `best`, the best price seen since the fill.
# `entry_ref` is the market price the entry filled at, before costs (the open, or the order's
# price inside the bar): the first price the lot trades at on its entry bar.
Lot = namedtuple("Lot", ("entry_bar", "entry_price", "qty", "entry_fee", "stop", "target",
                         "trail_pct", "trail_dist", "best", "be_trigger", "how", "ambiguous",
                         "entry_ref"))
LOT_FIELDS = 13

# The exit for the next open (NO_EXIT for none), the side a surviving entry signal asks for, and
# the part of every lot the exit closes (1.0: all of it; less only for a partial signal exit).
Order = namedtuple("Order", ("exit_reason", "entry_side", "portion"))

# The standing entry order: its side (FLAT for none), kind, price, the bar whose close placed it,
# the last bar it may fill on, and the side's risk values (stop, target, trailing, break-even)
# read on that bar, so that filling it needs no earlier bar's inputs.
Pending = namedtuple("Pending", ("side", "kind", "level", "signal_bar", "last_bar", "risk"))

# Everything one bar hands the next besides the open lots and the trade records (arrays): the
# account, the order decided at the last close, the standing entry order, how many trades are
# recorded, the running equity peak, and the ruin (its bar or -1, the loss beyond the equity).
State = namedtuple("State", ("book", "order", "pending", "k", "peak", "ruin_bar", "shortfall"))

# Fill costs: fraction per fill of the notional, fixed per fill; price moves for market-type
# fills (slippage and half the spread) and for limit-type fills (half the spread only).
Costs = namedtuple("Costs", ("fee", "fee_fixed", "market_frac", "market_abs", "limit_frac",
                             "limit_abs"))


@njit(cache=True, inline="always")
def flat_book(cash):
    """A book with no position."""
    return Book(cash, FLAT, 0, 0.0)


@njit(cache=True, inline="always")
def no_pending():
    return Pending(FLAT, O_MARKET, np.nan, -1, -1, (np.nan, np.nan, np.nan, np.nan))


@njit(cache=True, inline="always")
def _at(values, bar):
    """A risk input on `bar`: per-bar arrays are indexed, a length-1 array is a constant."""
    return values[bar] if values.shape[0] > 1 else values[0]


@njit(cache=True, inline="always")
def _slot(side, kind):
    return (0 if side == LONG else 1) * R_KINDS + kind


# ------------------------------------------------------------------ decide


@njit(cache=True, inline="always")
def decide(side, can_add, enter_long, exit_long, enter_short, exit_short):
    """The exit for the next open and the side of a new entry, from one bar's four signals.

    Precedence (docs/execution.md, "Precedence"): an entry is void when the exit of its own
    direction fires on the same bar, or when the opposite entry fires too (the two cancel). An
    entry in the held direction adds a lot only if `can_add` (pyramiding room); an entry
    against it is a reversal.
    """
    want_long = enter_long and not exit_long and not enter_short
    want_short = enter_short and not exit_short and not enter_long
    if side == LONG:
        return _order_from_position(exit_long, want_short, SHORT, want_long and can_add, LONG)
    if side == SHORT:
        return _order_from_position(exit_short, want_long, LONG, want_short and can_add, SHORT)
    # Flat: at most one of the two survives the rules above.
    return Order(NO_EXIT, LONG if want_long else (SHORT if want_short else FLAT), 1.0)


@njit(cache=True, inline="always")
def _order_from_position(exit_held, want_opposite, opposite, add, held):
    """The order while holding a position: its exit signal, a reversal, an added lot, or nothing."""
    entry = opposite if want_opposite else FLAT
    if exit_held:
        # The exit rule fired: that is the reason even when an opposite entry follows it.
        return Order(EXIT_SIGNAL, entry, 1.0)
    if want_opposite:
        return Order(EXIT_REVERSAL, entry, 1.0)
    return Order(NO_EXIT, held if add else FLAT, 1.0)


@njit(cache=True, inline="always")
def next_pending(pending, order, bar, kind, level, expire, exit_long, exit_short, risk):
    """The entry order standing after `bar`'s close.

    A new entry (`order.entry_side`, of `kind` at `level`, with the `risk` values read on this
    bar) replaces any standing one; a market
    order lives for the next open only, a limit/stop order for `expire` bars (0: until filled
    or replaced), and a missing price places nothing. A standing order is cancelled by its
    side's exit signal and dies after its last bar.
    """
    side = order.entry_side
    if side != FLAT:
        if kind == O_MARKET:
            return Pending(side, O_MARKET, np.nan, bar, bar + 1, risk)
        if not (level > 0.0):
            return no_pending()
        return Pending(side, kind, level, bar, bar + expire if expire > 0 else NEVER, risk)
    if (pending.side == LONG and exit_long) or (pending.side == SHORT and exit_short):
        return no_pending()
    if pending.last_bar <= bar:
        return no_pending()
    return pending


# ------------------------------------------------------------------ prices and sizes


@njit(cache=True, inline="always")
def fill_price(price, direction, frac, absolute):
    """Price paid for a buy (direction +1) or received for a sell (-1): costs hurt both."""
    return price * (1.0 + direction * frac) + direction * absolute


@njit(cache=True, inline="always")
def entry_trigger(pending, open_, high, low):
    """(reference price, how) if the standing order fills on this bar, else (nan, -1).

    Market: at the open. Limit (buy at or below, sell at or above) and stop (buy at or above,
    sell at or below): at the open when the open is already past the price, else at the price
    when the bar reaches it.
    """
    side, level = pending.side, pending.level
    if pending.kind == O_MARKET:
        return open_, AT_OPEN
    if pending.kind == O_LIMIT:
        if side * open_ <= side * level:
            return open_, AT_OPEN
        if side == LONG and low <= level:
            return level, FALLING
        if side == SHORT and high >= level:
            return level, RISING
        return np.nan, -1
    if side * open_ >= side * level:
        return open_, AT_OPEN
    if side == LONG and high >= level:
        return level, RISING
    if side == SHORT and low <= level:
        return level, FALLING
    return np.nan, -1


@njit(cache=True, inline="always")
def size_lot(equity, held_notional, fill, stop, costs, sizing, size, leverage, min_qty, qty_step):
    """The quantity of a new lot filled at `fill`; 0.0 when nothing can be bought.

    Requested: a fraction `size` of the equity spent (fees included), `size` units, `size` cash
    spent, or the quantity whose loss at `stop` is the fraction `size` of the equity. Capped so
    the gross position stays within `leverage` times the equity; then rounded down to the
    quantity step and refused below the minimum quantity.
    """
    unit_cost = fill * (1.0 + costs.fee)
    if sizing == S_EQUITY:
        want = (size * equity - costs.fee_fixed) / unit_cost
    elif sizing == S_UNITS:
        want = size
    elif sizing == S_CASH:
        want = (size - costs.fee_fixed) / unit_cost
    else:
        distance = abs(fill - stop)
        want = size * equity / distance if distance > 0.0 else 0.0
    cap = (leverage * equity - held_notional - costs.fee_fixed) / unit_cost
    qty = round_qty(want if want < cap else cap, qty_step)
    if not (qty > 0.0) or qty < min_qty:
        return 0.0
    return qty


@njit(cache=True, inline="always")
def round_qty(qty, qty_step):
    """`qty` rounded down to the quantity step (0: no rounding; the epsilon keeps 0.3 / 0.1 at 3)."""
    if qty_step > 0.0:
        return math.floor(qty / qty_step + 1e-9) * qty_step
    return qty


@njit(cache=True, inline="always")
def _level(mode, value, fill, direction):
    """A stop (direction -1) or target (+1) price for a long fill; shorts pass -direction."""
    if mode == M_PERCENT:
        return fill * (1.0 + direction * value)
    if mode == M_DISTANCE:
        return fill + direction * value
    if mode == M_PRICE:
        return value
    return np.nan


@njit(cache=True, inline="always")
def _usable(mode, value):
    """A declared level must be a positive number on the signal bar (missing: no entry)."""
    return mode == M_NONE or value > 0.0


@njit(cache=True, inline="always")
def new_lot(side, bar, ref, fill, qty, fee, how, modes, values):
    """A lot just filled at `fill` (market price `ref` plus costs), its levels fixed from
    `values` (read on the signal bar)."""
    base = 0 if side == LONG else R_KINDS
    stop = _level(modes[base + R_STOP], values[R_STOP], fill, -side)
    target = _level(modes[base + R_TARGET], values[R_TARGET], fill, side)
    trail_mode = modes[base + R_TRAIL]
    trail_pct = values[R_TRAIL] if trail_mode == M_PERCENT else np.nan
    trail_dist = values[R_TRAIL] if trail_mode == M_DISTANCE else np.nan
    be_trigger = _level(modes[base + R_BREAK_EVEN], values[R_BREAK_EVEN], fill, side)
    return Lot(bar, fill, qty, fee, stop, target, trail_pct, trail_dist, fill, be_trigger, how,
               False, ref)


# ------------------------------------------------------------------ exits


@njit(cache=True, inline="always")
def stop_level(lot, side):
    """(price, reason) of the lot's effective stop: the tighter of the fixed and trailing stops."""
    trail = np.nan
    if lot.trail_pct == lot.trail_pct:
        trail = lot.best * (1.0 - side * lot.trail_pct)
    elif lot.trail_dist == lot.trail_dist:
        trail = lot.best - side * lot.trail_dist
    fixed = lot.stop
    if trail == trail and (fixed != fixed or side * trail > side * fixed):
        return trail, EXIT_TRAILING
    return fixed, EXIT_STOP


@njit(cache=True, inline="always")
def effective_stop(lot, side, liquidation):
    """`stop_level`, or the account's liquidation price (nan: not reached on this bar) when that
    is strictly tighter: the price reaches it first (docs/execution.md, "Ruin")."""
    stop, reason = stop_level(lot, side)
    if liquidation == liquidation and (stop != stop or side * liquidation > side * stop):
        return liquidation, EXIT_LIQUIDATION
    return stop, reason


@njit(cache=True, inline="always")
def liquidation_price(book, costs):
    """The market price at which closing every lot, with a market-type exit's costs and fees,
    leaves zero equity. Above a short's entries; below a long's only when it borrowed (leverage
    above 1): a long bought with its own cash has a price <= 0, which no bar reaches."""
    exit_fill = (book.lots * costs.fee_fixed - book.cash) / (book.qty * (book.side - costs.fee))
    return (exit_fill + book.side * costs.market_abs) / (1.0 - book.side * costs.market_frac)


@njit(cache=True, inline="always")
def under_water(book, price, costs):
    """Would closing the position at market `price` leave no equity? (The bar reaches the
    liquidation price; no division on the hot path.)"""
    fill = fill_price(price, -book.side, costs.market_frac, costs.market_abs)
    left = book.cash + book.side * book.qty * fill - costs.fee * book.qty * fill
    return left - book.lots * costs.fee_fixed <= 0.0


@njit(cache=True, inline="always")
def see_price(lot, side, price):
    """The lot after trading at `price`: best price, and break-even once its trigger is reached."""
    best = max(lot.best, price) if side == LONG else min(lot.best, price)
    stop, trigger = lot.stop, lot.be_trigger
    if trigger == trigger and side * best >= side * trigger:
        entry = lot.entry_price
        stop = entry if stop != stop else (max(stop, entry) if side == LONG else min(stop, entry))
        trigger = np.nan
    return Lot(lot.entry_bar, lot.entry_price, lot.qty, lot.entry_fee, stop, lot.target,
               lot.trail_pct, lot.trail_dist, best, trigger, lot.how, lot.ambiguous, lot.entry_ref)


@njit(cache=True, inline="always")
def _mark_ambiguous(lot):
    return Lot(lot.entry_bar, lot.entry_price, lot.qty, lot.entry_fee, lot.stop, lot.target,
               lot.trail_pct, lot.trail_dist, lot.best, lot.be_trigger, lot.how, True,
               lot.entry_ref)


@njit(cache=True, inline="always")
def choose_exit(policy, hit_stop, stop_sure, hit_target, target_sure, stop_gap, target_gap):
    """(which level fills, ambiguous) for one bar.

    A touch is *sure* when the extreme that made it is known to follow the fill. The bar is
    ambiguous when it reaches both levels or makes a touch that is not sure. Pessimistic: the
    stop first, an unsure target not at all; optimistic: the target first, an unsure stop not at
    all; open_proximity: of two sure touches the level nearer the open (`*_gap`), else as
    pessimistic.
    """
    ambiguous = (hit_stop and hit_target) or (hit_stop and not stop_sure) or (
        hit_target and not target_sure)
    if policy == F_OPTIMISTIC:
        if hit_target:
            return CHOSE_TARGET, ambiguous
        return (CHOSE_STOP if hit_stop and stop_sure else CHOSE_NONE), ambiguous
    if (policy == F_OPEN_PROXIMITY and hit_stop and hit_target and stop_sure and target_sure
            and target_gap < stop_gap):
        return CHOSE_TARGET, ambiguous
    if hit_stop:
        return CHOSE_STOP, ambiguous
    return (CHOSE_TARGET if hit_target and target_sure else CHOSE_NONE), ambiguous


@njit(cache=True, inline="always")
def lot_exit(lot, side, bar, open_, high, low, close, policy, liquidation):
    """(lot, reference price, reason, ambiguous) of one lot over one bar; NO_EXIT if it survives.

    First the lot's first price on this bar: the open, or on its entry bar the price it filled
    at (`entry_ref`: the open, or an order's price inside the bar). A stop, else a target,
    already at or through it fills there - a gap at the open, or a level that was on the wrong
    side of an inside-the-bar fill (docs/execution.md, "The first price") - so an exit never
    fills at a price the bar did not trade. That price then counts as traded (trailing peak,
    break-even). Inside the bar the stop and target fill at their level. A lot that survives
    sees the bar's best price - the favourable extreme if it surely followed the fill, else the
    close - for the next bar. `liquidation` (nan when the bar does not reach it) acts as a stop.
    """
    fresh = lot.entry_bar == bar
    how = lot.how if fresh else AT_OPEN
    first = lot.entry_ref if fresh else open_
    stop, reason = effective_stop(lot, side, liquidation)
    if side * first <= side * stop:
        return lot, first, reason, False
    if side * first >= side * lot.target:
        return lot, first, EXIT_TARGET, False
    lot = see_price(lot, side, first)
    stop, reason = effective_stop(lot, side, liquidation)
    adverse, favourable = (low, high) if side == LONG else (high, low)
    hit_stop = side * adverse <= side * stop
    hit_target = side * favourable >= side * lot.target
    adverse_sure = how == AT_OPEN or how == (FALLING if side == LONG else RISING)
    favourable_sure = how == AT_OPEN or how == (RISING if side == LONG else FALLING)
    which, ambiguous = choose_exit(policy, hit_stop, adverse_sure, hit_target, favourable_sure,
                                   abs(open_ - stop), abs(lot.target - open_))
    if which == CHOSE_STOP:
        return lot, stop, reason, ambiguous
    if which == CHOSE_TARGET:
        return lot, lot.target, EXIT_TARGET, ambiguous
    lot = see_price(lot, side, favourable if favourable_sure else close)
    return (_mark_ambiguous(lot) if ambiguous else lot), np.nan, NO_EXIT, ambiguous


@njit(cache=True, inline="always")
def mark(book, price):
    """Equity marked to market: cash plus the signed position valued at `price`."""
    return book.cash + book.side * book.qty * price


# ------------------------------------------------------------------ array writers


@njit(cache=True, inline="always")
def _read_lot(lots, i):
    r = lots[i]
    return Lot(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], int(r[10]),
               r[11] > 0.0, r[12])


@njit(cache=True, inline="always")
def _store(lots, i, lot):
    r = lots[i]
    r[0], r[1], r[2], r[3], r[4], r[5] = (lot.entry_bar, lot.entry_price, lot.qty, lot.entry_fee,
                                          lot.stop, lot.target)
    r[6], r[7], r[8], r[9], r[10] = lot.trail_pct, lot.trail_dist, lot.best, lot.be_trigger, lot.how
    r[11], r[12] = (1.0 if lot.ambiguous else 0.0), lot.entry_ref


@njit(cache=True, inline="always")
def _record(trades, k, side, lot, exit_bar, exit_fill, exit_fee, reason, ambiguous):
    """Write the lot that just closed into row `k` of the trade records."""
    row = trades[k]
    row[T_SIDE], row[T_ENTRY_BAR], row[T_EXIT_BAR] = side, lot.entry_bar, exit_bar
    row[T_ENTRY_PRICE], row[T_EXIT_PRICE], row[T_QTY] = lot.entry_price, exit_fill, lot.qty
    row[T_ENTRY_FEE], row[T_EXIT_FEE], row[T_REASON] = lot.entry_fee, exit_fee, reason
    row[T_AMBIGUOUS] = 1.0 if (ambiguous or lot.ambiguous) else 0.0


@njit(cache=True, inline="always")
def _sell(side, lot, trades, k, bar, price, reason, ambiguous, frac, absolute, costs):
    """Record `lot` (or the part of one) closed at reference `price`; returns the cash it brings."""
    fill = fill_price(price, -side, frac, absolute)
    fee = costs.fee * lot.qty * fill + costs.fee_fixed
    _record(trades, k, side, lot, bar, fill, fee, reason, ambiguous)
    return side * lot.qty * fill - fee


@njit(cache=True, inline="always")
def _close_lot(book, lot, trades, k, bar, price, reason, ambiguous, frac, absolute, costs):
    """Sell (long) or buy back (short) one lot at reference `price`; returns the new book."""
    cash = book.cash + _sell(book.side, lot, trades, k, bar, price, reason, ambiguous, frac,
                             absolute, costs)
    if book.lots == 1:
        return flat_book(cash)
    return Book(cash, book.side, book.lots - 1, book.qty - lot.qty)


@njit(cache=True, inline="always")
def _close_all(book, lots, trades, k, bar, price, reason, costs):
    """Close every lot at a market price (signal, reversal, end of data); returns (book, k)."""
    for i in range(book.lots):
        book = _close_lot(book, _read_lot(lots, i), trades, k, bar, price, reason, False,
                          costs.market_frac, costs.market_abs, costs)
        k += 1
    return book, k


@njit(cache=True)
def _time_exits(book, lots, trades, k, bar, price, limit, costs):
    """Close the lots held `limit` bars or more at this open (reason "time")."""
    kept = 0
    for i in range(book.lots):
        lot = _read_lot(lots, i)
        if bar - lot.entry_bar >= limit:
            book = _close_lot(book, lot, trades, k, bar, price, EXIT_TIME, False,
                              costs.market_frac, costs.market_abs, costs)
            k += 1
        else:
            _store(lots, kept, lot)
            kept += 1
    return book, k


# ------------------------------------------------------------------ partial exits
#
# docs/execution.md, "Partial exits". A signal exit with a portion (`exit long 50% when ...`)
# closes that part of every open lot at the next open; a laddered target (`take_profit long 2%
# exit 50%`) splits each entry when it fills into one lot per rung (its part of the quantity,
# with the rung's target) and a lot for the rest (the side's plain target, if any). Each closed
# part is a trade row; the lots of one entry share its entry bar, which is how they are counted
# as one entry for `pyramiding`.


@njit(cache=True, inline="always")
def _rung(floats, side, r):
    """(mode, value, portion) of rung `r` of the side's ladder (mode M_NONE: no such rung)."""
    if floats.shape[0] < C_FIELDS + LADDER_FIELDS:
        return M_NONE, np.nan, np.nan
    at = C_FIELDS + ((0 if side == LONG else 1) * MAX_RUNGS + r) * RUNG_FIELDS
    return int(floats[at]), floats[at + 1], floats[at + 2]


@njit(cache=True, inline="always")
def has_ladder(floats):
    """Does either side have laddered targets?"""
    return _rung(floats, LONG, 0)[0] != M_NONE or _rung(floats, SHORT, 0)[0] != M_NONE


@njit(cache=True)
def lot_rows(ints, floats):
    """Rows of the open-lot matrix: each of `pyramiding` entries is one lot, or with a ladder up
    to one per rung plus the rest."""
    return ints[I_PYRAMIDING] * (MAX_RUNGS + 1 if has_ladder(floats) else 1)


@njit(cache=True, inline="always")
def open_entries(book, lots, ladder):
    """How many entries the position holds: its lots, or with a ladder the distinct entry bars
    among them (an entry's lots are adjacent, and a bar fills at most one entry)."""
    if not ladder:
        return book.lots
    count, previous = 0, -1.0
    for i in range(book.lots):
        if lots[i, 0] != previous:
            count += 1
            previous = lots[i, 0]
    return count


@njit(cache=True, inline="always")
def with_portion(order, side, long_parts, short_parts, modes, row):
    """`order` with the portion its signal exit closes, read on the signal bar (row `row` of the
    side's R_PORTION level array). An exit with an opposite entry (a reversal) always closes
    everything: the entry needs a flat book. NaN or 100 %: everything. (The two arrays are passed
    apart: indexing the level tuple with a side known only at run time cost 4x the whole loop.)"""
    if order.exit_reason != EXIT_SIGNAL or order.entry_side != FLAT or side == FLAT:
        return order
    if modes[_slot(side, R_PORTION)] == M_NONE:
        return order
    portion = _at(long_parts if side == LONG else short_parts, row)
    if not (portion > 0.0 and portion < 1.0):
        return order
    return Order(EXIT_SIGNAL, FLAT, portion)


@njit(cache=True, inline="always")
def _part_of(lot, qty):
    """The first `qty` of `lot`, with its share of the entry fee (the rest keeps the remainder)."""
    return Lot(lot.entry_bar, lot.entry_price, qty, lot.entry_fee * (qty / lot.qty), lot.stop,
               lot.target, lot.trail_pct, lot.trail_dist, lot.best, lot.be_trigger, lot.how,
               lot.ambiguous, lot.entry_ref)


@njit(cache=True, inline="always")
def _rest_of(lot, part):
    return Lot(lot.entry_bar, lot.entry_price, lot.qty - part.qty, lot.entry_fee - part.entry_fee,
               lot.stop, lot.target, lot.trail_pct, lot.trail_dist, lot.best, lot.be_trigger,
               lot.how, lot.ambiguous, lot.entry_ref)


@njit(cache=True, inline="always")
def split_qty(qty, portion, min_qty, qty_step):
    """The quantity a portion of `qty` closes: rounded down to the step; 0.0 when that is 0 or
    below the minimum quantity (nothing closes), all of `qty` when what would be left is below
    the minimum quantity (or nothing)."""
    part = round_qty(qty * portion, qty_step)
    if not (part > 0.0) or part < min_qty:
        return 0.0
    left = qty - part
    if left <= 1e-9 * qty or left < min_qty:
        return qty
    return part


@njit(cache=True)
def _close_part(book, lots, trades, k, bar, price, portion, costs, min_qty, qty_step):
    """Close `portion` of every lot at market `price` (a partial signal exit); a lot whose part
    rounds to nothing stays whole. Returns (book, k)."""
    kept, lots_left = 0, book.lots
    cash, qty = book.cash, book.qty
    for i in range(book.lots):
        lot = _read_lot(lots, i)
        part = split_qty(lot.qty, portion, min_qty, qty_step)
        if part > 0.0:
            closing = lot if part == lot.qty else _part_of(lot, part)
            cash += _sell(book.side, closing, trades, k, bar, price, EXIT_SIGNAL, False,
                          costs.market_frac, costs.market_abs, costs)
            k += 1
            qty -= part
            if part == lot.qty:
                lots_left -= 1
                continue
            lot = _rest_of(lot, closing)
        _store(lots, kept, lot)
        kept += 1
    if lots_left == 0:
        return flat_book(cash), k
    return Book(cash, book.side, lots_left, qty), k


@njit(cache=True)
def _store_entry(lots, at, lot, side, floats):
    """Store a new entry's lot at row `at`, split by the side's ladder: one lot per rung (its
    part of the quantity, rounded as `split_qty`, with the rung's target), then the rest with
    the side's plain target. A rung whose part rounds to nothing, or would leave less than the
    minimum quantity, leaves its part to the rest. Returns the number of rows stored."""
    rows, rest = 0, lot
    for r in range(MAX_RUNGS):
        mode, value, portion = _rung(floats, side, r)
        if mode == M_NONE:
            break
        part = split_qty(lot.qty, portion, floats[C_MIN_QTY], floats[C_QTY_STEP])
        if part > rest.qty:
            part = rest.qty
        if part == 0.0 or (rest.qty - part < floats[C_MIN_QTY] and part < rest.qty):
            continue
        piece = rest if part == rest.qty else _part_of(rest, part)
        target = _level(mode, value, lot.entry_price, side)
        _store(lots, at + rows, Lot(piece.entry_bar, piece.entry_price, piece.qty,
                                    piece.entry_fee, piece.stop, target, piece.trail_pct,
                                    piece.trail_dist, piece.best, piece.be_trigger, piece.how,
                                    piece.ambiguous, piece.entry_ref))
        rows += 1
        if part == rest.qty:
            return rows
        rest = _rest_of(rest, piece)
    _store(lots, at + rows, rest)
    return rows + 1


@njit(cache=True)
def trade_rows(n, enter_long, enter_short, exit_long, exit_short, modes, ints, floats):
    """Room for every trade record of a run: one per entry (a bar fills at most one), or with
    partial exits one per lot an entry makes plus one per lot per exit signal."""
    partial = modes[_slot(LONG, R_PORTION)] != M_NONE or modes[_slot(SHORT, R_PORTION)] != M_NONE
    if not (partial or has_ladder(floats)):
        return n + 1
    entries, exits = 0, 0
    for i in range(n):
        entries += enter_long[i] or enter_short[i]
        exits += exit_long[i] or exit_short[i]
    per_entry = MAX_RUNGS + 1 if has_ladder(floats) else 1
    return (entries + 1) * per_entry + exits * lot_rows(ints, floats) + 1


@njit(cache=True, inline="always")
def _intrabar(book, lots, trades, k, bar, o, h, l, c, policy, costs, liquidation):
    """Test every lot against its stop and target on this bar; survivors keep their order.
    Returns (book, k, the price a lot was liquidated at or nan)."""
    kept = 0
    liquidated = np.nan
    for i in range(book.lots):
        lot, price, reason, ambiguous = lot_exit(_read_lot(lots, i), book.side, bar, o, h, l, c,
                                                 policy, liquidation)
        if reason == EXIT_LIQUIDATION:
            liquidated = price
        if reason == NO_EXIT:
            if kept == i:  # in place: only what a bar can change (the hot path, every bar)
                row = lots[i]
                row[4], row[8], row[9] = lot.stop, lot.best, lot.be_trigger
                row[11] = 1.0 if lot.ambiguous else 0.0
            else:
                _store(lots, kept, lot)
            kept += 1
        elif reason == EXIT_TARGET:  # a limit order: no slippage
            book = _close_lot(book, lot, trades, k, bar, price, reason, ambiguous,
                              costs.limit_frac, costs.limit_abs, costs)
            k += 1
        else:
            book = _close_lot(book, lot, trades, k, bar, price, reason, ambiguous,
                              costs.market_frac, costs.market_abs, costs)
            k += 1
    return book, k, liquidated


@njit(cache=True)
def _enter(book, lots, pending, bar, o, h, l, modes, floats, sizing, costs, others_value,
           others_notional):
    """Fill the standing entry order if it triggers on this bar; returns (book, filled-or-void).

    `others_value` and `others_notional` are what the account holds besides this book (a
    portfolio's other symbols, marked at their latest price; 0.0 for one symbol): the equity the
    entry is sized from and the gross position the leverage cap counts include them."""
    ref, how = entry_trigger(pending, o, h, l)
    if how < 0:
        return book, False
    side, values = pending.side, pending.risk
    base = _slot(side, 0)
    for kind in range(R_ENTRY):
        if not _usable(modes[base + kind], values[kind]):
            return book, True  # a declared level is missing on the signal bar: no trade
    limit_like = pending.kind == O_LIMIT
    fill = fill_price(ref, side, costs.limit_frac if limit_like else costs.market_frac,
                      costs.limit_abs if limit_like else costs.market_abs)
    equity = book.cash + book.side * book.qty * ref + others_value
    stop = _level(modes[base + R_STOP], values[R_STOP], fill, -side)
    qty = size_lot(equity, book.qty * ref + others_notional, fill, stop, costs, sizing, floats[C_SIZE],
                   floats[C_LEVERAGE], floats[C_MIN_QTY], floats[C_QTY_STEP])
    if qty == 0.0:
        return book, True
    fee = costs.fee * qty * fill + costs.fee_fixed
    rows = _store_entry(lots, book.lots, new_lot(side, bar, ref, fill, qty, fee, how, modes,
                                                 values), side, floats)
    return Book(book.cash - side * qty * fill - fee, side, book.lots + rows, book.qty + qty), True


@njit(cache=True)
def _ruin(book, lots, trades, k, bar, close, costs):
    """The account is ruined on `bar` (docs/execution.md, "Ruin"): what is still held is
    liquidated at the close, and the equity left is floored at 0. Returns (book, k, shortfall:
    the loss beyond the equity, which is not carried)."""
    if book.side != FLAT:
        book, k = _close_all(book, lots, trades, k, bar, close, EXIT_LIQUIDATION, costs)
    cash = book.cash
    return flat_book(cash if cash > 0.0 else 0.0), k, (-cash if cash < 0.0 else 0.0)


@njit(cache=True, inline="always")
def _placed(pending, order, bar, row, levels, modes, ints, exit_long, exit_short):
    """`next_pending` with the new order's kind, price, expiry and risk values read from the
    settings and from this bar's levels (row `row` of the level arrays)."""
    side = order.entry_side
    slot = _slot(side if side != FLAT else LONG, R_ENTRY)
    kind = modes[slot] if side != FLAT else O_MARKET
    level = _at(levels[slot], row) if kind != O_MARKET else np.nan
    expire = ints[I_EXPIRE_LONG] if side == LONG else ints[I_EXPIRE_SHORT]
    base = slot - R_ENTRY
    risk = (_at(levels[base + R_STOP], row), _at(levels[base + R_TARGET], row),
            _at(levels[base + R_TRAIL], row), _at(levels[base + R_BREAK_EVEN], row))
    return next_pending(pending, order, bar, kind, level, expire, exit_long, exit_short, risk)


@njit(cache=True, inline="always")
def _costs(floats):
    half_spread, half_spread_price = floats[C_SPREAD] / 2.0, floats[C_SPREAD_PRICE] / 2.0
    return Costs(floats[C_FEE], floats[C_FEE_FIXED], floats[C_SLIPPAGE] + half_spread,
                 floats[C_SLIPPAGE_PRICE] + half_spread_price, half_spread, half_spread_price)


@njit(cache=True, inline="always")
def exit_checks(modes, floats):
    """Per side (long, short): does any risk level or laddered target apply? (If not, the
    intrabar phase only watches the liquidation price.)"""
    checks = np.zeros(2, dtype=np.bool_)
    for side_index in range(2):
        checks[side_index] = side_checks(modes, floats, side_index)
    return checks


@njit(cache=True, inline="always")
def side_checks(modes, floats, side_index):
    """`exit_checks` of one side (0 long, 1 short), without an array (`step` allocates none)."""
    checks = _rung(floats, LONG if side_index == 0 else SHORT, 0)[0] != M_NONE
    for kind in range(R_ENTRY):
        checks |= modes[side_index * R_KINDS + kind] != M_NONE
    return checks


# ------------------------------------------------------------------ position state
#
# Rules and risk values that read position state (docs/language.md, "Position state") arrive as
# a program for the stateful interpreter (tradebot/vm): at each bar's close, after its fills and
# before its orders, `state_rules` writes the position registers, runs every member of the
# program on the bar, and reads the rules' results. The program is a tuple of arrays (one numba
# signature for every script; `no_program()` for a script without position state):
PR_CODE, PR_CONSTS, PR_SEGMENTS, PR_INPUTS, PR_OUT, PR_STARTED, PR_REGS, PR_STACK = range(8)
PR_SLOTS, PR_TRACKS, PR_MODES, PR_NEEDS, PR_FLAT = 8, 9, 10, 11, 12
# PR_INPUTS: (columns, rows like the prices) computed by the plan; PR_OUT: (members, bars or a
# ring of the last bars read); PR_SLOTS: the member giving each of the four signals then each
# risk-level slot (-1: the precomputed array); PR_TRACKS: (input column, registers.TRACK_*) per
# tracked value; PR_MODES: the mode of each risk-level slot that is a moving level; PR_NEEDS:
# per segment, what needs its member on a bar (program.segment_needs), in these bits; PR_FLAT:
# per member, its value on a bar flat since the last close where that is a constant (else NaN).
NEED_ALWAYS = 1  # every bar (its past is read, or it has a start value)
NEED_SIGNAL = 2  # NEED_SIGNAL << s: signal s (enter_long, exit_long, enter_short, exit_short)
NEED_LONG_LEVELS = 32  # a moving level of a long position
NEED_SHORT_LEVELS = 64


def no_program():
    """The empty program (a script without position state), in the argument types of a real one."""
    ro = _read_only_array
    return (ro(np.zeros(0, np.int64)), ro(np.zeros(0)), ro(np.zeros((0, 5), np.int64)),
            ro(np.zeros((0, 1))), np.zeros((0, 1)), np.zeros(0, np.bool_), np.zeros(rg.TRACKS),
            np.zeros(1), ro(np.full(4 + R_SLOTS, -1, np.int64)), ro(np.zeros((0, 2), np.int64)),
            ro(np.zeros(R_SLOTS, np.int64)), ro(np.zeros(0, np.int64)), ro(np.zeros(0)))


def _read_only_array(array):
    array.flags.writeable = False
    return array


@njit(cache=True, error_model="numpy", inline="always")
def position_registers(book, lots, trades, k, t, c, flat_at_open, row, inputs, tracks, regs):
    """Write the position state as of bar t's close into `regs` (vm/registers.py). The entry bar
    is where the position was opened, its first entry since it was last flat: another side than
    at the last close, or flat at this open after its exits (a bar's entries fill after its
    exits at the open and before its stops); an added lot keeps it."""
    was = regs[rg.SIDE]
    regs[rg.SIDE] = book.side
    regs[rg.OPEN_ENTRIES] = book.lots
    if book.side == FLAT:
        if was != FLAT:  # flat since an earlier bar: they are missing already
            regs[rg.SIZE] = 0.0
            for r in range(rg.ENTRY_PRICE, rg.OPEN_ENTRIES):
                regs[r] = np.nan
            for j in range(tracks.shape[0]):
                regs[rg.TRACKS + j] = np.nan
    else:
        opened = was != book.side or flat_at_open
        cost, fees = 0.0, 0.0
        for i in range(book.lots):
            cost += lots[i, 2] * lots[i, 1]
            fees += lots[i, 3]
        if opened:
            regs[rg.ENTRY_BAR] = t
        regs[rg.SIZE] = book.qty
        regs[rg.ENTRY_PRICE] = cost / book.qty
        regs[rg.BARS_SINCE_ENTRY] = t - regs[rg.ENTRY_BAR]
        profit = book.side * (book.qty * c - cost) - fees
        regs[rg.OPEN_PROFIT] = profit
        regs[rg.OPEN_PROFIT_PCT] = profit / cost
        for j in range(tracks.shape[0]):
            x, at = inputs[np.uint64(tracks[j, 0]), row], rg.TRACKS + j
            kind, seen = tracks[j, 1], regs[at]
            if opened or seen != seen:
                regs[at] = x
            elif kind == rg.TRACK_MAX and x > seen:
                regs[at] = x
            elif kind == rg.TRACK_MIN and x < seen:
                regs[at] = x
    if k > 0:
        regs[rg.BARS_SINCE_EXIT] = t - trades[k - 1, T_EXIT_BAR]
        regs[rg.LAST_EXIT_REASON] = trades[k - 1, T_REASON]
    else:
        regs[rg.BARS_SINCE_EXIT] = np.nan
        regs[rg.LAST_EXIT_REASON] = np.nan


@njit(cache=True, error_model="numpy", inline="always")
def _rule(flag, slots, s, out, cell):
    """Signal `s`: its member's value on this bar when the program computes it (missing: false),
    gated by the precomputed flag (true but where a paper session's warm-up masks it). Without
    a branch around the read: see `state_rules`."""
    m = slots[s]
    return flag & ((m < 0) | (out[np.uint64(max(m, 0)), cell] == 1.0))


@njit(cache=True, error_model="numpy", inline="always")
def moving_levels(book, lots, slots, modes, out, cell):
    """Each open lot's stop, target and trailing distance from this close's value of a risk
    level that reads position state: it moves with it, applying from the next bar on (a
    missing or non-positive value: no such level on that bar)."""
    base = 0 if book.side == LONG else R_KINDS
    for kind in range(R_BREAK_EVEN):
        m = slots[4 + base + kind]
        if m < 0:
            continue
        value, mode = out[np.uint64(m), cell], modes[base + kind]
        if not value > 0.0:
            value = np.nan
        for i in range(book.lots):
            if kind == R_STOP:
                lots[i, 4] = _level(mode, value, lots[i, 1], -book.side)
            elif kind == R_TARGET:
                lots[i, 5] = _level(mode, value, lots[i, 1], book.side)
            else:
                lots[i, 6] = value if mode == M_PERCENT else np.nan
                lots[i, 7] = value if mode == M_DISTANCE else np.nan


@njit(cache=True, error_model="numpy", inline="always")
def bar_needs(side, pending_side, el, xl, es, xs):
    """The NEED_* bits of what can matter on this bar: a signal the precomputed flag does not
    already make false; an exit signal only while its side is held, or an entry order of its
    side stands, or an entry of its side may fire (an exit voids it: `decide`); the moving
    levels of the side held. What cannot matter is not computed (`segment_needs`)."""
    want = NEED_ALWAYS
    want |= NEED_SIGNAL if el else 0
    want |= NEED_SIGNAL << 1 if xl and (side == LONG or pending_side == LONG or el) else 0
    want |= NEED_SIGNAL << 2 if es else 0
    want |= NEED_SIGNAL << 3 if xs and (side == SHORT or pending_side == SHORT or es) else 0
    if side != FLAT:
        want |= NEED_LONG_LEVELS if side == LONG else NEED_SHORT_LEVELS
    return want


@njit(cache=True, error_model="numpy", inline="always")
def state_rules(book, lots, trades, k, t, row, c, flat_at_open, pending_side, code, consts, segments,
                inputs, out, started, regs, stack, slots, tracks, modes, needs, el, xl, es, xs):
    """Bar t's close for a program (its arrays, kernel.PR_* order): the registers, the members
    this bar needs (`bar_needs`), the moving levels of what is held; returns the four signals
    (the program's where it computes them, false where it cannot matter on this bar)."""
    position_registers(book, lots, trades, k, t, c, flat_at_open, row, inputs, tracks, regs)
    want = bar_needs(book.side, pending_side, el, xl, es, xs)
    run_bar(code, consts, inputs, row, out, t, regs, stack, segments, started, needs, want)
    cell = np.uint64(ring_cell(t, out.shape[1]))  # a mask, not a division (a ring is a power of two wide)
    if book.side != FLAT:
        moving_levels(book, lots, slots, modes, out, cell)
    # An exit signal that cannot matter is false (its member did not run on this bar).
    xl = xl and want & (NEED_SIGNAL << 1) != 0
    xs = xs and want & (NEED_SIGNAL << 3) != 0
    return (_rule(el, slots, 0, out, cell), _rule(xl, slots, 1, out, cell),
            _rule(es, slots, 2, out, cell), _rule(xs, slots, 3, out, cell))


@njit(cache=True, error_model="numpy", inline="always")
def flat_members(segments, needs, flat, out, started, t):
    """Bar t flat since the last close with nothing to enter, for a program whose members that
    every bar needs are constants there (`step`): each such member's value, as `run_bar` would
    compute it (a value: the member has started)."""
    cell = np.uint64(ring_cell(t, out.shape[1]))
    for s in range(np.uint64(segments.shape[0])):
        if needs[s] & NEED_ALWAYS != 0:
            m = np.uint64(segments[s, 0])
            out[m, cell] = flat[m]
            started[m] = True


# ------------------------------------------------------------------ the step


@njit(cache=True)
def initial_state(floats):
    """The state before the first bar: the capital in cash, no order, no trade, no peak."""
    return State(flat_book(floats[C_CAPITAL]), Order(NO_EXIT, FLAT, 1.0), no_pending(), 0, -np.inf,
                 -1, 0.0)


@njit(cache=True, inline="always")
def quiet_bars(i, stop, book, peak, costs, high, low, close, enter_long, exit_long, enter_short,
               exit_short, equity, position, drawdown):
    """Mark the bars from row `i` on which nothing can happen, up to row `stop` (excluded), and
    return (the first row that needs the whole bar, the equity peak after the marked ones).

    `step` calls it only when no exit order, entry order, position-state program, stop, target or
    time limit is waiting: then a bar with no signal, whose adverse extreme does not reach the
    liquidation price and whose close leaves equity, does exactly this in `step` (phase 3's mark,
    and a `decide` with four false signals that places nothing). Most bars are such bars; this
    loop keeps its few values in registers, where the whole bar's state does not fit (the loop
    ran 4-5 times faster on them: docs/benchmarks.md, "Quiet bars").
    """
    held = book.side * book.qty
    adverse = low if book.side == LONG else high
    # An unsigned row: numba indexes with it without the negative-index wraparound it adds for a
    # signed one (per access, a load of the array's length from the stack and two instructions:
    # a third of the loop's time).
    row, end, one = np.uint64(i), np.uint64(stop), np.uint64(1)
    while row < end:
        if enter_long[row] or exit_long[row] or enter_short[row] or exit_short[row]:
            break
        if book.side != FLAT and under_water(book, adverse[row], costs):
            break
        value = mark(book, close[row])
        if not value > 0.0:
            break
        equity[row] = value
        position[row] = held
        peak = max(peak, value)
        drawdown[row] = peak  # for now: divided below
        row += one
    # Each bar's drawdown (equity / running peak - 1, as in `step`) in a loop of its own, without
    # the running peak's dependency: the compiler makes it 8 divisions an instruction, where one
    # division a bar bound the loop above (0.45 -> 0.40 ms a trial on the SMA grid's 100k bars).
    for j in range(np.uint64(i), row):
        top = drawdown[j]
        drawdown[j] = equity[j] / top - 1.0 if top > 0.0 else -1.0
    return np.int64(row), peak


# `_nrt=False`: no reference counting in the bar loop (it allocates nothing). With it, numba
# counted each array handed to an inlined helper that reads it on only some of its branches (an
# atomic add and subtract per call): ~110 ns a bar for a position-state program, more than the
# program itself (docs/benchmarks.md, "Position state").
@njit(cache=True, _nrt=False)
def step(state, first, open_, high, low, close, enter_long, exit_long, enter_short, exit_short,
         levels, modes, ints, floats, last, lots, trades, equity, position, drawdown, program):
    """Advance `state` over the bars it is given and return the state after them.

    The inputs hold bars `first` .. `first + len(open_) - 1` (row i is bar first + i; a level
    array of length 1 is a constant); `last` is the last bar of the data (its close closes what
    is held), or -1 if it is not among them. Bar i's equity, position and drawdown go into row
    i of the output arrays; open lots live in `lots` and closed trades are appended to `trades`
    from row `state.k` on (room for every lot that can close: pyramiding + 1 rows per bar).

    `simulate` gives it every bar at once; `stepper.Stepper` one bar per call. Both run this
    one loop body, so a run resumed from any bar's state is bit for bit the uninterrupted run.
    (A function per bar would pass the arrays on every bar: numba reference-counts each, which
    measured 3-5 times slower on a million bars.) Phases 1-3 are the venue's half (fills at the
    open, stops, targets and liquidation inside the bar, end of data), phase 4 the policy's
    (`decide`, `next_pending`); a live broker would run the policy half alone.

    `program` holds the rules and risk values that read position state (`no_program()` when the
    script has none: the loop then runs as it would without it); see `state_rules`.
    """
    costs = _costs(floats)
    policy, sizing, max_lots = ints[I_POLICY], ints[I_SIZING], ints[I_PYRAMIDING]
    has_program = program[2].shape[0] > 0
    checks_long = side_checks(modes, floats, 0) | side_checks(program[PR_MODES], floats, 0)
    checks_short = side_checks(modes, floats, 1) | side_checks(program[PR_MODES], floats, 1)
    ladder = has_ladder(floats)
    long_parts, short_parts = levels[R_PORTION], levels[R_KINDS + R_PORTION]
    # Unpacked once: reading arrays out of the tuple on every bar costs reference counting.
    p_code, p_consts, p_segments, p_inputs, p_out, p_started, p_regs, p_stack = program[:8]
    p_slots, p_tracks, p_modes, p_needs, p_flat = program[8:]
    # Whether a member must run on every bar. Without one, a bar flat since the last close with
    # no entry to make runs no member (`bar_needs`), and its registers would not change: the
    # whole program is skipped (a stop or an exit reading position state costs nothing while
    # flat). A member every bar needs whose value is a constant on such a bar (`p_flat`:
    # `held = if position_side != 0 then held[1] + 1 else 0`) is given that value instead.
    always = has_flat = False
    for segment in range(p_needs.shape[0]):
        if p_needs[segment] & NEED_ALWAYS != 0:
            known = p_flat[p_segments[segment, 0]] == p_flat[p_segments[segment, 0]]
            always |= not known
            has_flat |= known
    book, order, pending, k, peak, ruin_bar, shortfall = state
    n = open_.shape[0]
    # The bars before the last one of the data (its close closes the position).
    stop = last - first if 0 <= last - first < n else n
    i = 0
    while i < n:
        if (ruin_bar < 0 and order.exit_reason == NO_EXIT and pending.side == FLAT and not has_program
                and not (book.side == LONG and (checks_long or ints[I_TIME_LONG] > 0))
                and not (book.side == SHORT and (checks_short or ints[I_TIME_SHORT] > 0))):
            i, peak = quiet_bars(i, stop, book, peak, costs, high, low, close, enter_long, exit_long,
                                 enter_short, exit_short, equity, position, drawdown)
            if i == n:
                break
        t = first + i
        if ruin_bar >= 0:  # ruined: nothing trades any more, the equity left stays
            equity[i], position[i] = book.cash, 0.0
            drawdown[i] = book.cash / peak - 1.0 if peak > 0.0 else -1.0
            i += 1
            continue
        o, h, l, c = open_[i], high[i], low[i], close[i]
        # 1. open (venue)
        if order.exit_reason != NO_EXIT and book.side != FLAT:
            if order.portion < 1.0:
                book, k = _close_part(book, lots, trades, k, t, o, order.portion, costs,
                                      floats[C_MIN_QTY], floats[C_QTY_STEP])
            else:
                book, k = _close_all(book, lots, trades, k, t, o, order.exit_reason, costs)
        if book.side != FLAT:
            limit = ints[I_TIME_LONG] if book.side == LONG else ints[I_TIME_SHORT]
            if limit > 0:
                book, k = _time_exits(book, lots, trades, k, t, o, limit, costs)
        flat_at_open = book.side == FLAT  # before the entry: a position opened on this bar
        if (pending.side != FLAT and book.side != -pending.side
                and open_entries(book, lots, ladder) < max_lots):
            book, done = _enter(book, lots, pending, t, o, h, l, modes, floats, sizing, costs,
                                 0.0, 0.0)
            if done:
                pending = no_pending()
        # 2. intrabar (venue): stops and targets, and the liquidation price once the bar's
        # adverse extreme reaches it (a comparison of scalars on the hot path).
        liquidated = False
        if book.side != FLAT:
            reached = under_water(book, l if book.side == LONG else h, costs)
            if reached or (checks_long if book.side == LONG else checks_short):
                liquidation = liquidation_price(book, costs) if reached else np.nan
                book, k, price = _intrabar(book, lots, trades, k, t, o, h, l, c, policy, costs,
                                           liquidation)
                liquidated = price == price
                if liquidated and book.side != FLAT:  # the whole account goes at once
                    book, k = _close_all(book, lots, trades, k, t, price, EXIT_LIQUIDATION,
                                         costs)
        # 3. close (venue)
        if t == last and book.side != FLAT:
            book, k = _close_all(book, lots, trades, k, t, c, EXIT_END_OF_DATA, costs)
        value = mark(book, c)
        if liquidated or not value > 0.0:
            book, k, shortfall = _ruin(book, lots, trades, k, t, c, costs)
            ruin_bar, value = t, book.cash
        equity[i] = value
        position[i] = book.side * book.qty
        peak = max(peak, value)
        drawdown[i] = value / peak - 1.0 if peak > 0.0 else -1.0
        if ruin_bar >= 0:
            i += 1
            continue
        # 4. decide (policy)
        el, xl, es, xs = enter_long[i], exit_long[i], enter_short[i], exit_short[i]
        if has_program and (always or book.side != FLAT or el or es or pending.side != FLAT
                            or p_regs[rg.SIDE] != FLAT):
            el, xl, es, xs = state_rules(book, lots, trades, k, t, i, c, flat_at_open,
                                         pending.side, p_code, p_consts, p_segments, p_inputs,
                                         p_out, p_started, p_regs, p_stack, p_slots, p_tracks,
                                         p_modes, p_needs, el, xl, es, xs)
        elif has_program:  # flat since the last close, nothing to enter: what `state_rules` gives
            xl = xs = False
            if has_flat:
                flat_members(p_segments, p_needs, p_flat, p_out, p_started, t)
        order = decide(book.side, open_entries(book, lots, ladder) < max_lots, el, xl, es, xs)
        if order.exit_reason == EXIT_SIGNAL:
            order = with_portion(order, book.side, long_parts, short_parts, modes, i)
        if order.entry_side != FLAT or pending.side != FLAT:
            pending = _placed(pending, order, t, i, levels, modes, ints, xl, xs)
        i += 1
    return State(book, order, pending, k, peak, ruin_bar, shortfall)


@njit(cache=True)
def simulate(open_, high, low, close, enter_long, exit_long, enter_short, exit_short,
             levels, modes, ints, floats, program, trades, equity, position, drawdown):
    """Run `step` over all bars from the initial state, into arrays the caller allocated.

    `levels` is a tuple of R_SLOTS float arrays (per bar, or length 1 for a constant), `modes`
    their int modes, `ints`/`floats` the scalar settings (I_* / C_* indices). `trades` has room
    for every trade record (`trade_rows` rows, TRADE_FIELDS columns); `equity`, `position` and
    `drawdown` one row per bar. Fills them and returns (the number of trades, ruin): the first
    rows of `trades` are the closed trades in closing order; `equity` and `position` hold each
    bar's marked equity and signed quantity after its fills; `drawdown` is equity / running
    peak - 1 (-1 where the peak is <= 0), kept here because the loop has the running peak for
    free (metrics.drawdown is the same formula); `ruin` is (the bar the account was ruined on or
    -1, the loss beyond its equity). `program`: see `step`.

    The caller allocates because numpy asks the system for huge pages for large arrays and
    numba's allocator does not: on a million bars the four arrays cost 4,000-6,000 page faults
    a run (about 10 ms) when numba made them (docs/benchmarks.md, "Quiet bars").
    """
    n = open_.shape[0]
    lots = np.empty((lot_rows(ints, floats), LOT_FIELDS))
    # np.int64(0), not the literal 0, which numba would compile `step` for separately from the
    # int that `stepper.Stepper` passes: one compiled `step` for both.
    state = step(initial_state(floats), np.int64(0), open_, high, low, close, enter_long, exit_long,
                 enter_short, exit_short, levels, modes, ints, floats, n - 1, lots, trades,
                 equity, position, drawdown, program)
    return state.k, np.array([state.ruin_bar, state.shortfall])


# ------------------------------------------------------------------ the portfolio
#
# Many symbols, one account (docs/execution.md, "Portfolios"). Each symbol has its own book
# (side, lots, quantity), open lots, entry order and exit order; the cash is shared. A symbol's
# transitions are the single-symbol ones above, given a `Book` whose cash is the shared cash;
# what the other symbols hold enters only where the account as a whole matters: the equity an
# entry is sized from, the leverage cap, and the liquidation price.
#
# Position state: every symbol runs the script's one program (`state_rules`) against its own
# position, with its own copy of what the program keeps between bars - these slots of the
# `program` tuple have a first axis of symbols; the bytecode and the stack are shared. The program
# counts a symbol's own bars (the bars the plan computed its inputs on, where `bar_index` counts):
# bar t of the timeline is the symbol's bar `own[j]`, and its last exit is kept in its own bars.
PR_PER_SYMBOL = (PR_INPUTS, PR_OUT, PR_STARTED, PR_REGS)


@njit(cache=True, inline="always")
def _pending_of(p_int, p_float, j):
    """Symbol `j`'s standing entry order, from the rows the portfolio keeps them in."""
    return Pending(p_int[j, 0], p_int[j, 1], p_float[j, 0], p_int[j, 2], p_int[j, 3],
                   (p_float[j, 1], p_float[j, 2], p_float[j, 3], p_float[j, 4]))


@njit(cache=True, inline="always")
def _keep_pending(p_int, p_float, j, pending, rank):
    p_int[j, 0], p_int[j, 1], p_int[j, 2], p_int[j, 3] = (pending.side, pending.kind,
                                                          pending.signal_bar, pending.last_bar)
    p_float[j, 0] = pending.level
    p_float[j, 1], p_float[j, 2], p_float[j, 3], p_float[j, 4] = pending.risk
    p_float[j, 5] = rank


@njit(cache=True, inline="always")
def _held(sides, qtys, quotes, skip):
    """(signed value, gross notional) of every position but symbol `skip`'s, at `quotes`."""
    value = 0.0
    notional = 0.0
    for i in range(sides.shape[0]):
        if i != skip and sides[i] != FLAT:
            value += sides[i] * qtys[i] * quotes[i]
            notional += qtys[i] * quotes[i]
    return value, notional


@njit(cache=True, inline="always")
def _book_of(cash, sides, counts, qtys, j):
    return Book(cash, sides[j], counts[j], qtys[j])


@njit(cache=True, inline="always")
def _put(book, j, cash, sides, counts, qtys, flows, symbols, k0, k, trades, exits, own_bar):
    """Write symbol `j`'s book back, tag the trades it closed (rows k0..k) with it, and return
    the shared cash; `flows[j]` accumulates the cash changes it caused (its realized P&L). Row j
    of `exits` keeps the symbol's last exit as the program reads it: its bar (the symbol's own
    `own_bar`) and reason."""
    flows[j] += book.cash - cash
    sides[j], counts[j], qtys[j] = book.side, book.lots, book.qty
    for r in range(k0, k):
        symbols[r] = j
    if k > k0:
        exits[j, T_EXIT_BAR], exits[j, T_REASON] = own_bar, trades[k - 1, T_REASON]
    return book.cash


@njit(cache=True)
def _room(trades, symbols, k, need):
    """The trade records with room for `need` more rows after row `k` (doubled when short)."""
    if k + need <= trades.shape[0]:
        return trades, symbols
    size = max(2 * trades.shape[0], k + need)
    grown = np.empty((size, TRADE_FIELDS))
    grown[:k] = trades[:k]
    tags = np.empty(size, dtype=np.int64)
    tags[:k] = symbols[:k]
    return grown, tags


@njit(cache=True, inline="always")
def _row_levels(levels, j):
    """Symbol `j`'s risk level arrays (row j of each (symbols, bars-or-1) matrix; R_SLOTS = 12)."""
    return (levels[0][j], levels[1][j], levels[2][j], levels[3][j], levels[4][j], levels[5][j],
            levels[6][j], levels[7][j], levels[8][j], levels[9][j], levels[10][j], levels[11][j])


@njit(cache=True)
def _entry_order(open_, t, p_int, p_float, sides, counts, lots, ladder, max_lots, keys, candidates):
    """The symbols whose standing entry order may fill at bar t's open, in rank order: the
    rank read on the signal bar, higher first, a missing rank last, ties by symbol index (the
    facade sorts the symbols by name)."""
    count = 0
    for j in range(open_.shape[1]):
        side = p_int[j, 0]
        if (open_[t, j] == open_[t, j] and side != FLAT and sides[j] != -side
                and open_entries(Book(0.0, sides[j], counts[j], 0.0), lots[j], ladder) < max_lots):
            rank = p_float[j, 5]
            keys[count] = -rank if rank == rank else np.inf
            candidates[count] = j
            count += 1
    order = np.argsort(keys[:count], kind="mergesort")  # stable: ties keep the symbol order
    return candidates[:count][order]


@njit(cache=True)
def _symbol_rules(book, lots, exits, j, own_bar, t, c, flat_at_open, pending_side, program, el, xl,
                  es, xs):
    """Symbol j's `state_rules` at bar t's close: its own slots of the program, its own bar
    number, and row j of `exits` as the trade records it reads (k = j + 1). A call, not inlined:
    the interpreter inlined into the symbol loop slowed a portfolio without position state."""
    return state_rules(book, lots, exits, j + 1, own_bar, t, c, flat_at_open, pending_side,
                       program[PR_CODE], program[PR_CONSTS], program[PR_SEGMENTS],
                       program[PR_INPUTS][j], program[PR_OUT][j], program[PR_STARTED][j],
                       program[PR_REGS][j], program[PR_STACK], program[PR_SLOTS],
                       program[PR_TRACKS], program[PR_MODES], program[PR_NEEDS], el, xl, es, xs)


@njit(cache=True)
def simulate_portfolio(open_, high, low, close, enter_long, exit_long, enter_short, exit_short,
                       rank, levels, modes, ints, floats, max_positions, program, trades, symbols,
                       equity, drawdown, position, pnl):
    """Run every symbol's signals over one timeline with one account.

    Prices, signals and `rank` are (bars, symbols) matrices; a symbol without a bar at a time
    has NaN prices there (no fill, no signal, no decision: its orders wait for its next bar).
    `levels` holds R_SLOTS (symbols, bars) matrices, or (symbols, 1) for a constant. Each bar:
    the exits at the open of every symbol (freeing cash), then the standing entry orders in rank
    order while fewer than `max_positions` symbols hold a position (adding to one held does not
    count), each sized from the account's equity (cash plus every position at its latest
    price); then each symbol's stops and targets, the end of its data, the account's mark and
    ruin, and each symbol's decision (its position program's rules first, as in `step`). With one
    symbol every step is `step`'s, in its order. `program`: `step`'s, with the PR_PER_SYMBOL slots
    stacked per symbol (portfolio.portfolio_program).

    The caller allocates the outputs (numpy's huge pages, as `simulate` says: the two (bars,
    symbols) matrices alone were 8,000 page faults a run of 20 symbols × 100k bars): `trades`
    (TRADE_FIELDS columns) and `symbols` with room for n + m records (grown here when a bar needs
    more), `equity` and `drawdown` per bar, `position` and `pnl` (bars, symbols), zeros.
    Returns (trades, their symbols: the rows recorded, equity, positions, each symbol's P&L,
    drawdown, ruin).
    """
    n, m = open_.shape
    costs = _costs(floats)
    policy, sizing, max_lots = ints[I_POLICY], ints[I_SIZING], ints[I_PYRAMIDING]
    has_program = program[PR_SEGMENTS].shape[0] > 0
    checks_exits = exit_checks(modes, floats) | exit_checks(program[PR_MODES], floats)
    ladder = has_ladder(floats)
    rows = lot_rows(ints, floats)
    own = np.full(m, -1, dtype=np.int64)  # each symbol's bar number among its own bars
    flat_at_open = np.zeros(m, dtype=np.bool_)  # after its exits at this open, before the entries
    exits = np.full((m, TRADE_FIELDS), np.nan)  # each symbol's last exit (see `_put`)
    cash = floats[C_CAPITAL]
    sides = np.zeros(m, dtype=np.int64)
    counts = np.zeros(m, dtype=np.int64)
    qtys = np.zeros(m)
    quotes = np.zeros(m)  # each symbol's latest price (the open, then the close, of its last bar)
    flows = np.zeros(m)
    last = np.full(m, -1, dtype=np.int64)
    for j in range(m):
        for t in range(n - 1, -1, -1):
            if close[t, j] == close[t, j]:
                last[j] = t
                break
    lots = np.empty((m, rows, LOT_FIELDS))
    o_exit = np.full(m, NO_EXIT, dtype=np.int64)
    o_portion = np.ones(m)
    p_int = np.empty((m, 4), dtype=np.int64)
    p_float = np.empty((m, 6))
    for j in range(m):
        _keep_pending(p_int, p_float, j, no_pending(), np.nan)
    keys = np.empty(m)
    candidates = np.empty(m, dtype=np.int64)
    k, peak, ruin_bar, shortfall = 0, -np.inf, -1, 0.0
    for t in range(n):
        if ruin_bar >= 0:
            equity[t] = cash
            drawdown[t] = cash / peak - 1.0 if peak > 0.0 else -1.0
            pnl[t] = flows
            continue
        # A bar closes each lot at most once, plus a part of each on a partial exit.
        trades, symbols = _room(trades, symbols, k, m * (2 * rows + 1))
        # 1. open: every symbol's exits first, then the entries in rank order
        for j in range(m):
            o = open_[t, j]
            if o != o:
                continue
            quotes[j] = o
            own[j] += 1
            if sides[j] == FLAT:
                flat_at_open[j] = True
                continue
            book, k0 = _book_of(cash, sides, counts, qtys, j), k
            if o_exit[j] != NO_EXIT and o_portion[j] < 1.0:
                book, k = _close_part(book, lots[j], trades, k, t, o, o_portion[j], costs,
                                      floats[C_MIN_QTY], floats[C_QTY_STEP])
            elif o_exit[j] != NO_EXIT:
                book, k = _close_all(book, lots[j], trades, k, t, o, o_exit[j], costs)
            if book.side != FLAT:
                limit = ints[I_TIME_LONG] if book.side == LONG else ints[I_TIME_SHORT]
                if limit > 0:
                    book, k = _time_exits(book, lots[j], trades, k, t, o, limit, costs)
            cash = _put(book, j, cash, sides, counts, qtys, flows, symbols, k0, k, trades, exits,
                        own[j])
            flat_at_open[j] = sides[j] == FLAT
        held = 0
        for j in range(m):
            held += sides[j] != FLAT
        for j in _entry_order(open_, t, p_int, p_float, sides, counts, lots, ladder, max_lots, keys,
                              candidates):
            if sides[j] == FLAT and held >= max_positions:
                continue  # no slot: a market order lapses, a limit or stop order stands
            value, notional = _held(sides, qtys, quotes, j)
            book = _book_of(cash, sides, counts, qtys, j)
            book, done = _enter(book, lots[j], _pending_of(p_int, p_float, j), t, open_[t, j],
                                high[t, j], low[t, j], modes, floats, sizing, costs, value,
                                notional)
            if done:
                _keep_pending(p_int, p_float, j, no_pending(), np.nan)
            held += sides[j] == FLAT and book.side != FLAT
            cash = _put(book, j, cash, sides, counts, qtys, flows, symbols, k, k, trades, exits,
                        own[j])
        # 2. intrabar: stops, targets, and the account's liquidation price
        liquidated = False
        for j in range(m):
            o = open_[t, j]
            if o != o or sides[j] == FLAT:
                continue
            h, l, c = high[t, j], low[t, j], close[t, j]
            book, k0 = _book_of(cash, sides, counts, qtys, j), k
            value, _ = _held(sides, qtys, quotes, j)
            account = Book(cash + value, book.side, book.lots, book.qty)
            reached = under_water(account, l if book.side == LONG else h, costs)
            if reached or checks_exits[0 if book.side == LONG else 1]:
                liquidation = liquidation_price(account, costs) if reached else np.nan
                book, k, price = _intrabar(book, lots[j], trades, k, t, o, h, l, c, policy,
                                           costs, liquidation)
                liquidated = price == price
                if liquidated and book.side != FLAT:
                    book, k = _close_all(book, lots[j], trades, k, t, price, EXIT_LIQUIDATION,
                                         costs)
            cash = _put(book, j, cash, sides, counts, qtys, flows, symbols, k0, k, trades, exits,
                        own[j])
            if liquidated:
                break
        # 3. close: the end of each symbol's data, the account's mark, ruin
        for j in range(m):
            c = close[t, j]
            if c != c:
                continue
            quotes[j] = c
            if t == last[j] and sides[j] != FLAT:
                book, k0 = _book_of(cash, sides, counts, qtys, j), k
                book, k = _close_all(book, lots[j], trades, k, t, c, EXIT_END_OF_DATA, costs)
                cash = _put(book, j, cash, sides, counts, qtys, flows, symbols, k0, k, trades,
                            exits, own[j])
        value = cash + _held(sides, qtys, quotes, -1)[0]
        if liquidated or not value > 0.0:
            for j in range(m):
                if sides[j] != FLAT:
                    book, k0 = _book_of(cash, sides, counts, qtys, j), k
                    book, k = _close_all(book, lots[j], trades, k, t, quotes[j],
                                         EXIT_LIQUIDATION, costs)
                    cash = _put(book, j, cash, sides, counts, qtys, flows, symbols, k0, k, trades,
                                exits, own[j])
            shortfall = -cash if cash < 0.0 else 0.0
            cash = cash if cash > 0.0 else 0.0
            ruin_bar, value = t, cash
        equity[t] = value
        for j in range(m):
            position[t, j] = sides[j] * qtys[j]
            pnl[t, j] = flows[j] + sides[j] * qtys[j] * quotes[j]
        peak = max(peak, value)
        drawdown[t] = value / peak - 1.0 if peak > 0.0 else -1.0
        if ruin_bar >= 0:
            continue
        # 4. decide: each symbol with a bar, on its own signals
        for j in range(m):
            if close[t, j] != close[t, j]:
                continue
            holding = _book_of(cash, sides, counts, qtys, j)
            el, xl, es, xs = enter_long[t, j], exit_long[t, j], enter_short[t, j], exit_short[t, j]
            if has_program:
                el, xl, es, xs = _symbol_rules(holding, lots[j], exits, j, own[j], t, close[t, j],
                                               flat_at_open[j], p_int[j, 0], program, el, xl, es,
                                               xs)
            order = decide(sides[j], open_entries(holding, lots[j], ladder) < max_lots,
                           el, xl, es, xs)
            if order.exit_reason == EXIT_SIGNAL:
                order = with_portion(order, sides[j], levels[R_PORTION][j],
                                     levels[R_KINDS + R_PORTION][j], modes, t)
            o_exit[j], o_portion[j] = order.exit_reason, order.portion
            pending = _pending_of(p_int, p_float, j)
            if order.entry_side != FLAT or pending.side != FLAT:
                pending = _placed(pending, order, t, t, _row_levels(levels, j), modes, ints,
                                  xl, xs)
                placed_now = pending.side != FLAT and pending.signal_bar == t
                _keep_pending(p_int, p_float, j, pending,
                              rank[t, j] if placed_now else p_float[j, 5])
    return (trades[:k], symbols[:k], equity, position, pnl, drawdown,
            np.array([ruin_bar, shortfall]))
