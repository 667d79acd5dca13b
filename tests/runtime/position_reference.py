"""A naive, bar-by-bar oracle for rules that read position state, written from the wording of
docs/language.md ("Position state") and docs/execution.md, sharing no code with the kernel.

Each bar: fills at the open (the exit decided at the last close, then an entry or an added
lot), a moving stop inside the bar, the end of data, the mark; then the position values as of
the close are appended to plain lists, and the script's rules are asked of the reference
evaluator (lang/reference.py) on every bar so far, with those lists as the position arrays - the
whole script again on each bar, which is slow and obviously causal. Supported: market entries,
`size N% of equity`, fee, slippage, pyramiding, exit signals, reversals, a stop that reads
position state (`stop_loss SIDE at ...`). Enough for the random scripts of
tests/runtime/test_position_state.py; no liquidation (the scripts stay far from it).
"""
from __future__ import annotations

import math

import numpy as np
import polars as pl

from tradebot.lang import ir
from tradebot.lang.reference import evaluate
from tradebot.market.vocab import EXIT_REASONS

NAN = math.nan
VALUE_NAMES = ("position_side", "position_size", "entry_price", "entry_bar", "bars_since_entry",
               "open_profit", "open_profit_pct", "open_entries", "bars_since_exit", "last_exit_reason")


class Account:
    def __init__(self, capital: float, fee: float, slippage: float, size: float, pyramiding: int):
        self.cash, self.fee, self.slippage, self.size, self.max_lots = capital, fee, slippage, size, pyramiding
        self.side = 0
        self.lots: list[dict] = []
        self.trades: list[dict] = []
        self.opened = NAN  # the bar the position was opened on

    def fill(self, price: float, buying: bool) -> float:
        return price * (1 + self.slippage) if buying else price * (1 - self.slippage)

    def enter(self, side: int, bar: int, price: float) -> None:
        fill = self.fill(price, side > 0)
        held = sum(lot["qty"] for lot in self.lots)
        equity = self.cash + self.side * held * price
        unit_cost = fill * (1 + self.fee)
        qty = min(self.size * equity / unit_cost, (equity - held * price) / unit_cost)
        if not qty > 0:
            return
        fee = self.fee * qty * fill
        self.cash -= side * qty * fill + fee
        if not self.lots:
            self.side, self.opened = side, bar
        self.lots.append({"bar": bar, "fill": fill, "qty": qty, "fee": fee, "stop": NAN})

    def leave(self, lot: dict, bar: int, price: float, reason: str) -> None:
        fill = self.fill(price, self.side < 0)
        fee = self.fee * lot["qty"] * fill
        self.cash += self.side * lot["qty"] * fill - fee
        self.trades.append({"side": "long" if self.side > 0 else "short", "entry_bar": lot["bar"],
                            "exit_bar": bar, "entry_price": lot["fill"], "exit_price": fill,
                            "qty": lot["qty"], "exit_reason": reason})
        self.lots.remove(lot)
        if not self.lots:
            self.side, self.opened = 0, NAN

    def leave_all(self, bar: int, price: float, reason: str) -> None:
        for lot in list(self.lots):
            self.leave(lot, bar, price, reason)

    def values(self, bar: int, close: float) -> dict[str, float]:
        """The position values as of this close (docs/language.md, "Position state")."""
        qty = sum(lot["qty"] for lot in self.lots)
        last = self.trades[-1] if self.trades else None
        exits = {"bars_since_exit": bar - last["exit_bar"] if last else NAN,
                 "last_exit_reason": float(EXIT_REASONS.index(last["exit_reason"])) if last else NAN}
        if not self.lots:
            return {**dict.fromkeys(VALUE_NAMES, NAN), "position_side": 0.0, "position_size": 0.0,
                    "open_entries": 0.0, **exits}
        cost = sum(lot["qty"] * lot["fill"] for lot in self.lots)
        profit = self.side * (qty * close - cost) - sum(lot["fee"] for lot in self.lots)
        return {"position_side": float(self.side), "position_size": qty, "entry_price": cost / qty,
                "entry_bar": float(self.opened), "bars_since_entry": float(bar - self.opened),
                "open_profit": profit, "open_profit_pct": profit / cost,
                "open_entries": float(len(self.lots)), **exits}


def naive_position_backtest(bars: pl.DataFrame, signals: dict[str, ir.Node], stops: dict[int, ir.Node], *,
                            capital: float, fee: float, slippage: float, size: float, pyramiding: int) -> list[dict]:
    """The trades of a script whose rules are `signals` (enter_long ... exit_short, IR) and whose
    stops are `stops` ({1: long stop price, -1: short}), bar by bar."""
    columns = {name: bars[name].to_numpy() for name in ("open", "high", "low", "close", "volume")}
    columns["timestamp"] = bars["timestamp"].to_numpy()
    o, h, l, c = (columns[k] for k in ("open", "high", "low", "close"))
    n = bars.height
    account = Account(capital, fee, slippage, size, pyramiding)
    history = {name: [] for name in VALUE_NAMES}
    exit_next, enter_next = False, 0
    for t in range(n):
        if exit_next and account.side:  # 1. the open: an exit (signal or reversal), then an entry
            account.leave_all(t, o[t], exit_next)
        if enter_next and account.side != -enter_next and len(account.lots) < pyramiding:
            account.enter(enter_next, t, o[t])
        for lot in list(account.lots):  # 2. inside the bar: the stop set at the last close
            stop, side = lot["stop"], account.side
            if not math.isnan(stop) and (o[t] - stop) * side <= 0:
                account.leave(lot, t, o[t], "stop")
            elif not math.isnan(stop) and ((l[t] if side > 0 else h[t]) - stop) * side <= 0:
                account.leave(lot, t, stop, "stop")
        if t == n - 1:  # 3. the end of the data
            account.leave_all(t, c[t], "end_of_data")
        for name, value in account.values(t, c[t]).items():
            history[name].append(value)
        position = {name: np.array(values + [NAN] * (n - t - 1)) for name, values in history.items()}
        now = {name: evaluate(node, columns, position=position)[t] for name, node in signals.items()}
        fired = {name: value == 1.0 for name, value in now.items()}
        if account.side in stops:  # the moving stop, from the next bar on
            value = evaluate(stops[account.side], columns, position=position)[t]
            for lot in account.lots:
                lot["stop"] = value if value > 0 else NAN
        exit_next, enter_next = decide(account, fired, pyramiding)
    return account.trades


def decide(account: Account, fired: dict[str, bool], pyramiding: int) -> tuple[str | bool, int]:
    """(the exit reason for the next open or False, the side to enter or add, or 0)."""
    long_ = fired["enter_long"] and not fired["exit_long"] and not fired["enter_short"]
    short = fired["enter_short"] and not fired["exit_short"] and not fired["enter_long"]
    room = len(account.lots) < pyramiding
    if account.side == 1:
        if fired["exit_long"]:
            return "signal", -1 if short else 0
        return ("reversal", -1) if short else (False, 1 if long_ and room else 0)
    if account.side == -1:
        if fired["exit_short"]:
            return "signal", 1 if long_ else 0
        return ("reversal", 1) if long_ else (False, -1 if short and room else 0)
    return False, 1 if long_ else (-1 if short else 0)
