"""Every metric of a backtest in one compiled call: the one implementation behind a plain run, a
live session and each trial of a sweep, so a sweep's numbers equal a plain run's by construction.

`summarize` takes plain arrays — the equity curve (equity, position, drawdown, timestamps in ms)
and the closed trades as columns (side, net P&L, return %, bars held, fees, ambiguous) — and
returns the metrics as numbers in the order of `EQUITY_KEYS` and `TRADE_KEYS`. A sweep calls it
straight on the kernel's output; a plain run calls it through `metrics.compute_metrics`, from its
frames' columns. The definitions are those of metrics.py (`equity_metrics`, `trade_metrics`,
written with numpy, which docs/execution.md states): tests/runtime/test_summary.py holds the two
equal on random runs, so either is the other's check.

Speed (a sweep calls it once a trial): each loop does what runs fast alone. The bar returns are
divided in a loop that only stores them (four divisions at a time) and added up from there; sums
and minima keep four lanes, so that no step waits on the one before; each side's trades are read
through a list of their positions rather than copied out. The numbers are those of the plainer
pass before (tests/runtime/summary_reference.py) bit for bit: the same additions in the same order.

Why the trade columns arrive computed rather than as the kernel's records: `trade_columns` is the
one place that derives P&L and returns from a record (engine.trades_frame uses it too), so the
trade list a report shows and the metrics a sweep ranks cannot disagree on a trade's P&L.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# The metrics of the equity curve, then of the trades, in the order `compute_metrics` lists them
# ("buy_and_hold_return_pct" is the data's, computed by the caller).
EQUITY_KEYS = ("start_equity", "final_equity", "total_return_pct", "annualized_return_pct", "cagr_pct",
               "volatility_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct", "max_drawdown_bars",
               "max_drawdown_days", "bars", "bars_per_year")
TRADE_KEYS = ("trades", "win_rate_pct", "profit_factor", "expectancy", "sqn", "net_pnl", "avg_trade_pct",
              "best_trade_pct", "worst_trade_pct", "avg_bars_held", "fees_paid", "exposure_pct",
              "ambiguous_trades", "ambiguous_pnl")
# The "all" section of `as_dicts`, in its order: one row of numbers per trial in a sweep.
ALL_KEYS = (*EQUITY_KEYS, "buy_and_hold_return_pct", *TRADE_KEYS)
COUNT_KEYS = frozenset({"max_drawdown_bars", "bars", "trades", "ambiguous_trades"})  # ints, not floats
MS_PER_DAY = 86_400_000.0


@njit(cache=True, error_model="numpy")
def _ratio(numerator, denominator, zero_denominator):
    """numerator / denominator; a zero denominator gives `zero_denominator` unless it is NaN,
    then +inf for a positive numerator and 0.0 otherwise (metrics._ratio)."""
    if denominator > 0:
        return numerator / denominator
    if zero_denominator == zero_denominator:
        return zero_denominator
    return math.inf if numerator > 0 else 0.0


@njit(cache=True, error_model="numpy")
def _sum4(values, center, squared, order=None, count=-1):
    """The sum of `values` (or of their squared deviations from `center`) in four lanes, so
    that the additions do not wait on each other: item j goes to lane j % 4, the last count % 4
    to the first lane. `order`: the positions of the items in `values`, in order (all of
    `values` when None); `count`: how many (all of `values` or `order` when negative)."""
    a = b = c = d = 0.0
    n = count if count >= 0 else (values.shape[0] if order is None else order.shape[0])
    stop = n - n % 4
    for j in range(0, stop, 4):
        w, x = _item(values, order, j) - center, _item(values, order, j + 1) - center
        y, z = _item(values, order, j + 2) - center, _item(values, order, j + 3) - center
        if squared:
            a, b, c, d = a + w * w, b + x * x, c + y * y, d + z * z
        else:
            a, b, c, d = a + w, b + x, c + y, d + z
    for j in range(stop, n):
        a += (_item(values, order, j) - center) ** 2 if squared else _item(values, order, j) - center
    return (a + b) + (c + d)


@njit(cache=True, error_model="numpy", inline="always")
def _item(values, order, j):
    """The j-th item: values[j], or values[order[j]] (no copy of the items a side selects)."""
    return values[j] if order is None else values[order[j]]


@njit(cache=True, error_model="numpy")
def _bar_returns(equity, out):
    """The return of each bar t >= 1 into out[t - 1]: 0 after a bar whose equity is not positive.
    A loop of its own, with nothing to add up, so that the divisions run four at a time (the
    bars' returns cost one division each, the pass's largest cost when added up in the loop)."""
    for t in range(1, equity.shape[0]):
        r = equity[t] / equity[t - 1] - 1.0
        out[t - 1] = r if equity[t - 1] > 0 else 0.0


@njit(cache=True, error_model="numpy")
def _returns_and_losses(returns):
    """(the sum of the bar returns, the sum of the squares of their losses, min(r, 0)), each as
    `_sum4` adds it: both in one loop over the returns."""
    a = b = c = d = 0.0
    la = lb = lc = ld = 0.0
    n = returns.shape[0]
    stop = n - n % 4
    for i in range(0, stop, 4):
        w, x, y, z = returns[i], returns[i + 1], returns[i + 2], returns[i + 3]
        a, b, c, d = a + w, b + x, c + y, d + z
        w, x, y, z = min(w, 0.0), min(x, 0.0), min(y, 0.0), min(z, 0.0)
        la, lb, lc, ld = la + w * w, lb + x * x, lc + y * y, ld + z * z
    for i in range(stop, n):
        a += returns[i]
        la += min(returns[i], 0.0) ** 2
    return (a + b) + (c + d), (la + lb) + (lc + ld)


@njit(cache=True, error_model="numpy")
def _cagr(growth, years):
    if years <= 0:
        return 0.0
    if growth <= 0:
        return -1.0
    return math.exp(math.log(growth) / years) - 1.0  # overflows to +inf, as metrics._cagr says


@njit(cache=True, error_model="numpy")
def _deepest(drawdown):
    """drawdown.min() as numba computes it (the first NaN, else the first of the smallest
    values: -0.0 and 0.0 compare equal), in four lanes whose comparisons do not wait on each
    other; NaN-checked in lanes too."""
    n = drawdown.shape[0]
    if n == 0:
        return 0.0
    a = b = c = d = drawdown[0]
    nan_a = nan_b = nan_c = nan_d = False
    stop = n - n % 4
    for i in range(0, stop, 4):
        w, x, y, z = drawdown[i], drawdown[i + 1], drawdown[i + 2], drawdown[i + 3]
        a, b, c, d = (w if w < a else a), (x if x < b else b), (y if y < c else c), (z if z < d else d)
        nan_a, nan_b, nan_c, nan_d = nan_a | (w != w), nan_b | (x != x), nan_c | (y != y), nan_d | (z != z)
    for i in range(stop, n):
        a = drawdown[i] if drawdown[i] < a else a
        nan_a |= drawdown[i] != drawdown[i]
    if nan_a or nan_b or nan_c or nan_d:
        return math.nan
    least = min(min(a, b), min(c, d))
    if least != 0.0:
        return least  # every item equal to it has its bits
    for i in range(n):  # which zero: the first, as one running minimum would keep it
        if drawdown[i] == 0.0:
            return drawdown[i]
    return least


@njit(cache=True, error_model="numpy")
def _underwater(drawdown, ms, room):
    """(bars, days) of the longest stretch under water (metrics.drawdown_durations): from the
    peak bar before a run of bars under water to the first bar back at or above it, or to the
    last bar if the equity never recovers. `room`: int64, one item per bar at least.

    The bars where the curve turns (goes under, or comes back) are listed first, then paired. A
    loop that branches on each bar pays for every branch it mispredicts: a winning curve comes
    back to its peak every few bars, and a sweep's every trial is a new curve (0.28 ms a 100k-bar
    trend that way, 0.10 ms this way). Blocks without a turn, most of a losing curve's, are told
    by counting their bars under water (a loop numba runs four bars at a time), and skipped."""
    n = drawdown.shape[0]
    turns = 0
    was_under, quiet = False, True
    for first in range(0, n, _BLOCK):
        block = drawdown[first:first + _BLOCK]
        if quiet and _under_count(block) == (block.shape[0] if was_under else 0):
            continue  # wholly in the state it began in: no turn
        before = turns
        turns, was_under = _turns(block, first, room, turns, was_under)
        quiet = turns == before  # after a block with turns, the next is likely to have some too
    most_bars, most_ms = 0, 0.0
    for j in range(0, turns, 2):  # a run under water begins at room[j] and ends at room[j + 1]
        first = room[j]
        start = first - 1 if first > 0 else 0
        if j + 1 < turns:
            end = room[j + 1]
        elif n >= 2:
            end = n - 1  # never recovered
        else:
            break
        most_bars, most_ms = max(most_bars, end - start), max(most_ms, float(ms[end] - ms[start]))
    return most_bars, most_ms / MS_PER_DAY


_BLOCK = 1024  # bars


@njit(cache=True, error_model="numpy")
def _under_count(block):
    count = 0
    for t in range(block.shape[0]):
        count += block[t] < 0.0
    return count


@njit(cache=True, error_model="numpy")
def _turns(block, offset, room, turns, was_under):
    """The turns in `block` (whose first bar is bar `offset`) listed in room[turns:], without a
    branch on the data: (the count of turns listed so far, whether the block ends under water)."""
    for i in range(block.shape[0]):
        under = block[i] < 0.0
        room[turns] = offset + i  # kept only when the state turns here
        turns += under != was_under
        was_under = under
    return turns, was_under


@njit(cache=True, error_model="numpy")
def _exposure(position):
    """(bars held long, bars held short)."""
    long_bars = short_bars = 0
    for t in range(position.shape[0]):
        long_bars += position[t] > 0
        short_bars += position[t] < 0
    return long_bars, short_bars


@njit(cache=True, error_model="numpy")
def _equity_part(equity, drawdown, ms, capital, bars_per_year, room, out):
    """metrics.equity_metrics into `out` (EQUITY_KEYS order); `room`: float64 scratch, one item
    per bar at least (the turns under water, then the bar returns)."""
    n = equity.shape[0]
    max_dd = _deepest(drawdown)
    bars, days = _underwater(drawdown, ms, room.view(np.int64)) if n >= 2 else (0, 0.0)
    count = max(n - 1, 0)  # bar returns
    returns = room[:count]
    _bar_returns(equity, returns)
    total, losses = _returns_and_losses(returns)
    mean = total / count if count else 0.0
    std = math.sqrt(_sum4(returns, mean, True) / (count - 1)) if count >= 2 else 0.0
    downside = math.sqrt(losses / count) if count else 0.0
    final = equity[n - 1] if n else capital
    years = (n - 1) / bars_per_year if bars_per_year > 0 else 0.0
    cagr = _cagr(final / capital, years)
    root = math.sqrt(bars_per_year)
    out[0], out[1], out[2] = capital, final, 100.0 * (final / capital - 1.0)
    out[3], out[4], out[5] = 100.0 * mean * bars_per_year, 100.0 * cagr, 100.0 * std * root
    out[6] = _ratio(mean * root, std, 0.0)
    out[7] = _ratio(mean * root, downside, np.nan)
    out[8] = _ratio(cagr, -max_dd, np.nan)
    out[9], out[10], out[11], out[12], out[13] = 100.0 * max_dd, bars, days, n, bars_per_year


@njit(cache=True, error_model="numpy")
def _trade_part(pnl, returns, held, fees, ambiguous, order, count, exposed_bars, bars, out):
    """metrics.trade_metrics of `count` trades into `out` (TRADE_KEYS order): all of them when
    `order` is None, else those at the positions `order` lists, in order. The sums add in the
    order numpy's would over the selected trades, so the numbers are those of the copies a
    boolean mask would give. Every sum in one loop: each waits only on its own additions."""
    wins, profit, loss, ambiguous_count, ambiguous_pnl = 0, 0.0, 0.0, 0, 0.0
    pnl_sum = returns_sum = held_sum = fees_sum = 0.0
    best = worst = _item(returns, order, 0) if count else 0.0
    nan = False
    for j in range(count):
        i = j if order is None else order[j]
        value, gain = pnl[i], returns[i]
        # Adding 0.0 leaves a sum as it is: none of these starts at, or can reach, -0.0.
        wins += value > 0
        profit += value if value > 0 else 0.0
        loss -= value if value < 0 else 0.0
        if ambiguous[i]:
            ambiguous_count += 1
            ambiguous_pnl += value
        pnl_sum, returns_sum = pnl_sum + value, returns_sum + gain
        held_sum, fees_sum = held_sum + held[i], fees_sum + fees[i]
        # The first of equal extremes, or the first NaN, as numba's max and min give them.
        best = gain if gain > best else best
        worst = gain if gain < worst else worst
        nan |= gain != gain
    if nan:
        best = worst = math.nan
    mean = _sum4(pnl, 0.0, False, order, count) / count if count else 0.0
    std = math.sqrt(_sum4(pnl, mean, True, order, count) / (count - 1)) if count >= 2 else 0.0
    out[0] = count
    out[1] = 100.0 * wins / count if count else 0.0
    out[2] = _ratio(profit, loss, np.nan)
    out[3] = mean
    out[4] = math.sqrt(count) * _ratio(mean, std, 0.0)
    out[5] = pnl_sum
    out[6] = returns_sum / count if count else 0.0
    out[7] = best
    out[8] = worst
    out[9] = held_sum / count if count else 0.0
    out[10] = fees_sum
    out[11] = 100.0 * exposed_bars / bars if bars else 0.0
    out[12], out[13] = ambiguous_count, ambiguous_pnl


@njit(cache=True, error_model="numpy")
def _split_sides(side, order):
    """The positions of the long trades (side 1) at the front of `order`, those of the short
    trades (side -1) from its back towards the front: (their counts). Without a branch on the
    side, which a mixed list of trades would mispredict every other time."""
    n = side.shape[0]
    longs = shorts = 0
    for i in range(n):
        order[longs] = i
        order[n - 1 - shorts] = i  # the same slot as the long's only when i is the last trade
        longs += side[i] == 1.0
        shorts += side[i] == -1.0
    return longs, shorts


@njit(cache=True, error_model="numpy")
def summarize(equity, position, drawdown, ms, capital, bars_per_year,
              side, pnl, returns, held, fees, ambiguous, bar_room, trade_room):
    """(equity metrics, trade metrics of all / long / short trades as a (3, len(TRADE_KEYS))
    matrix), as module docstring says. `bar_room`: float64, one item per bar at least;
    `trade_room`: int64, one per trade: scratch the caller allocates with numpy, which backs large
    arrays with huge pages (numba's allocator does not: a page fault per 4 KB)."""
    out_equity = np.empty(len(EQUITY_KEYS))
    _equity_part(equity, drawdown, ms, capital, bars_per_year, bar_room, out_equity)
    long_bars, short_bars = _exposure(position)
    out_trades = np.empty((3, len(TRADE_KEYS)))
    n, count = position.shape[0], pnl.shape[0]
    _trade_part(pnl, returns, held, fees, ambiguous, None, count, long_bars + short_bars, n, out_trades[0])
    longs, shorts = _split_sides(side, trade_room)
    _trade_part(pnl, returns, held, fees, ambiguous, trade_room, longs, long_bars, n, out_trades[1])
    # The shorts' positions run from the back: read them backwards, in the trades' order.
    shorts_in_order = trade_room[count - shorts:count][::-1]
    _trade_part(pnl, returns, held, fees, ambiguous, shorts_in_order, shorts, short_bars, n, out_trades[2])
    return out_equity, out_trades


def trade_columns(records: np.ndarray, fields: dict[str, int]) -> dict[str, np.ndarray]:
    """side, entry/exit bar and price, qty, fees, net P&L, return % and bars held of each trade
    record (`fields`: the record's column of each, the kernel's T_* numbers)."""
    side, qty = records[:, fields["side"]], records[:, fields["qty"]]
    entry_price, exit_price = records[:, fields["entry_price"]], records[:, fields["exit_price"]]
    fees = records[:, fields["entry_fee"]] + records[:, fields["exit_fee"]]
    # Net P&L of a round trip: the signed price move times quantity, less both fees
    # (equal to the change in cash from entry to exit; docs/execution.md "Result frames").
    pnl = side * qty * (exit_price - entry_price) - fees
    entry_bar = records[:, fields["entry_bar"]].astype(np.int64)
    exit_bar = records[:, fields["exit_bar"]].astype(np.int64)
    return {"side": side, "qty": qty, "entry_price": entry_price, "exit_price": exit_price,
            "fees": fees, "pnl": pnl,
            # Net return on the entry notional, in percent.
            "return_pct": 100.0 * pnl / (qty * entry_price),
            "entry_bar": entry_bar, "exit_bar": exit_bar, "bars_held": exit_bar - entry_bar,
            "ambiguous": records[:, fields["ambiguous"]] > 0}


def summary_arrays(equity: np.ndarray, position: np.ndarray, drawdown: np.ndarray, ms: np.ndarray, *,
                   capital: float, bars_per_year: float, trades: dict[str, np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """`summarize` on numpy arrays of any layout (`trades`: `trade_columns`' output, or a trade
    frame's columns)."""
    f64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731 — one numba signature
    return summarize(f64(equity), f64(position), f64(drawdown), np.ascontiguousarray(ms, dtype=np.int64),
                     float(capital), float(bars_per_year), f64(trades["side"]), f64(trades["pnl"]),
                     f64(trades["return_pct"]), f64(trades["bars_held"]), f64(trades["fees"]),
                     np.ascontiguousarray(trades["ambiguous"], dtype=np.bool_),
                     np.empty(len(equity)), np.empty(len(trades["pnl"]), dtype=np.int64))


def as_dicts(equity_part: np.ndarray, trade_part: np.ndarray, buy_and_hold_pct: float) -> dict[str, dict]:
    """`summarize`'s numbers as compute_metrics' {"all": ..., "long": ..., "short": ...}."""
    everything = {**_named(EQUITY_KEYS, equity_part), "buy_and_hold_return_pct": float(buy_and_hold_pct),
                  **_named(TRADE_KEYS, trade_part[0])}
    return {"all": everything, "long": _named(TRADE_KEYS, trade_part[1]),
            "short": _named(TRADE_KEYS, trade_part[2])}


def all_row(equity_part: np.ndarray, trade_part: np.ndarray, buy_and_hold_pct: float) -> np.ndarray:
    """The "all" section of `as_dicts` as numbers in ALL_KEYS order."""
    return np.concatenate([equity_part, [buy_and_hold_pct], trade_part[0]])


def _named(keys: tuple[str, ...], values: np.ndarray) -> dict[str, float | int]:
    return {k: (int(v) if k in COUNT_KEYS else float(v)) for k, v in zip(keys, values.tolist())}
