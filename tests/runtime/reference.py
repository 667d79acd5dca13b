"""Naive, obviously-correct oracles for the runtime tests.

`reference_backtest` re-implements docs/execution.md bar by bar in plain Python, written from the
rules' wording (a ledger of buys and sells) rather than from the kernel's state machine, so that a
shared misreading is unlikely. `reference_metrics` computes the metric definitions with the
standard library only. Both are slow and only meant for small inputs.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class Ledger:
    """Cash, the signed position and the open trade of a naive simulation."""

    capital: float
    fee: float
    slippage: float
    cash: float = 0.0
    units: float = 0.0
    open_trade: dict | None = None
    trades: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cash = self.capital

    def trade(self, units: float, price: float) -> tuple[float, float]:
        """Buy (units > 0) or sell (units < 0) at `price` moved against us; returns (fill, fee)."""
        fill = price * (1 + self.slippage) if units > 0 else price * (1 - self.slippage)
        cost = abs(units) * fill * self.fee
        self.cash -= units * fill + cost
        self.units += units
        return fill, cost

    def enter(self, side: str, bar: int, price: float) -> None:
        if self.cash <= 0:
            return  # nothing left to size a position with
        direction = 1 if side == "long" else -1
        fill = price * (1 + direction * self.slippage)
        qty = self.cash / (fill * (1 + self.fee))
        fill, cost = self.trade(direction * qty, price)
        self.open_trade = {"side": side, "entry_bar": bar, "entry_price": fill, "qty": qty,
                           "fees": cost}

    def cash_after_closing_at(self, price: float) -> float:
        """The cash if the position were closed at `price` (slippage and fee included)."""
        units = -self.units
        fill = price * (1 + self.slippage) if units > 0 else price * (1 - self.slippage)
        return self.cash - units * fill - abs(units) * fill * self.fee

    def liquidation_price(self) -> float:
        """Where closing leaves zero cash: the cash after closing is a straight line in the price."""
        at_0, at_1 = self.cash_after_closing_at(0.0), self.cash_after_closing_at(1.0)
        return -at_0 / (at_1 - at_0)

    def leave(self, bar: int, price: float, reason: str) -> None:
        trade = self.open_trade
        fill, cost = self.trade(-self.units, price)
        sign = 1 if trade["side"] == "long" else -1
        trade.update(exit_bar=bar, exit_price=fill, exit_reason=reason, fees=trade["fees"] + cost)
        trade["pnl"] = sign * trade["qty"] * (fill - trade["entry_price"]) - trade["fees"]
        self.trades.append(trade)
        self.units = 0.0
        self.open_trade = None

    @property
    def side(self) -> str | None:
        return None if self.open_trade is None else self.open_trade["side"]


def orders_for(side: str | None, enter_long: bool, exit_long: bool, enter_short: bool,
               exit_short: bool) -> tuple[str | None, str | None]:
    """(close reason, side to open) for the next open, following the precedence rules' text."""
    if enter_long and enter_short:  # opposite entries on one bar cancel each other
        enter_long = enter_short = False
    if exit_long:  # exit wins over an entry of the same direction
        enter_long = False
    if exit_short:
        enter_short = False
    close = None
    if side == "long":
        enter_long = False  # no pyramiding
        close = "signal" if exit_long else ("reversal" if enter_short else None)
    elif side == "short":
        enter_short = False
        close = "signal" if exit_short else ("reversal" if enter_long else None)
    opening = "long" if enter_long else ("short" if enter_short else None)
    return close, opening


def reference_backtest(opens, closes, enter_long, exit_long, enter_short, exit_short, *,
                       capital: float, fee: float, slippage: float, highs=None, lows=None):
    """(trades as dicts, equity per bar, position per bar, ruin bar or None) following
    docs/execution.md; bars without highs/lows span their open and close."""
    highs = [max(pair) for pair in zip(opens, closes)] if highs is None else highs
    lows = [min(pair) for pair in zip(opens, closes)] if lows is None else lows
    ledger = Ledger(capital, fee, slippage)
    equity, position = [], []
    pending: tuple[str | None, str | None] = (None, None)
    last = len(opens) - 1
    ruined = None
    for bar in range(len(opens)):
        if ruined is not None:  # "Ruin": nothing trades any more
            equity.append(ledger.cash)
            position.append(0.0)
            continue
        close_reason, opening = pending
        if close_reason and ledger.side:
            ledger.leave(bar, opens[bar], close_reason)
        if opening and not ledger.side:
            ledger.enter(opening, bar, opens[bar])
        liquidated = ledger.side is not None and liquidate(ledger, bar, opens[bar], highs[bar], lows[bar])
        if bar == last and ledger.side:
            ledger.leave(bar, closes[bar], "end_of_data")
        value = ledger.cash + ledger.units * closes[bar]
        if liquidated or value <= 0:
            if ledger.side:
                ledger.leave(bar, closes[bar], "liquidation")
            ledger.cash = value = max(ledger.cash, 0.0)
            ruined = bar
        equity.append(value)
        position.append(ledger.units)
        pending = orders_for(ledger.side, bool(enter_long[bar]), bool(exit_long[bar]),
                             bool(enter_short[bar]), bool(exit_short[bar]))
    return ledger.trades, equity, position, ruined


def liquidate(ledger: Ledger, bar: int, open_: float, high: float, low: float) -> bool:
    """Close the position at its liquidation price (or at the open, if already past it) when
    the bar reaches it."""
    price = ledger.liquidation_price()
    short = ledger.side == "short"
    if (high < price) if short else (low > price):
        return False
    past_at_open = open_ >= price if short else open_ <= price
    ledger.leave(bar, open_ if past_at_open else price, "liquidation")
    return True


def reference_metrics(equity: list[float], pnls: list[float], returns_pct: list[float], *,
                      capital: float, bars_per_year: float) -> dict[str, float]:
    """The documented metric formulas with the standard library, on plain lists."""
    rets = [equity[i] / equity[i - 1] - 1 for i in range(1, len(equity))]
    mean = statistics.fmean(rets) if rets else 0.0
    std = statistics.stdev(rets) if len(rets) > 1 else 0.0
    down = math.sqrt(sum(min(r, 0.0) ** 2 for r in rets) / len(rets)) if rets else 0.0
    peak, max_dd = -math.inf, 0.0
    for value in equity:
        peak = max(peak, value)
        max_dd = min(max_dd, value / peak - 1)
    years = (len(equity) - 1) / bars_per_year
    cagr = (equity[-1] / capital) ** (1 / years) - 1
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    return {
        "total_return_pct": 100 * (equity[-1] / capital - 1),
        "annualized_return_pct": 100 * mean * bars_per_year,
        "cagr_pct": 100 * cagr,
        "volatility_pct": 100 * std * math.sqrt(bars_per_year),
        "sharpe": mean / std * math.sqrt(bars_per_year) if std else 0.0,
        "sortino": mean / down * math.sqrt(bars_per_year) if down else _inf_if(mean > 0),
        "calmar": cagr / -max_dd if max_dd else _inf_if(cagr > 0),
        "max_drawdown_pct": 100 * max_dd,
        "trades": len(pnls),
        "win_rate_pct": 100 * len(wins) / len(pnls) if pnls else 0.0,
        "profit_factor": sum(wins) / -sum(losses) if losses else _inf_if(bool(wins)),
        "expectancy": statistics.fmean(pnls) if pnls else 0.0,
        "sqn": (math.sqrt(len(pnls)) * statistics.fmean(pnls) / statistics.stdev(pnls)
                if len(pnls) > 1 and statistics.stdev(pnls) > 0 else 0.0),
        "avg_trade_pct": statistics.fmean(returns_pct) if returns_pct else 0.0,
        "best_trade_pct": max(returns_pct, default=0.0),
        "worst_trade_pct": min(returns_pct, default=0.0),
    }


def _inf_if(positive: bool) -> float:
    """A ratio over a zero denominator: +inf for a positive numerator, else 0 (as documented)."""
    return math.inf if positive else 0.0
