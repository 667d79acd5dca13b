"""A naive, bar-by-bar oracle for the risk engine, written from docs/execution.md's wording.

It shares no code with the kernel and is organised differently: each bar is a list of price
"events" (the open, then the touches inside the bar) and a position is a plain list of dicts. It is
slow and only meant for the small random scenarios of tests/runtime/test_risk_properties.py.
Config: a plain dict (see `CONFIG_KEYS`); levels of a side: {"stop_loss": (mode, values), ...}
where `values` is one value per bar or a constant. Partial exits ("Partial exits"): a side's
"exit_portion" (the part its exit signal closes, a constant or one value per bar; NaN or 1: all)
and "ladder" (a list of (mode, value, portion) targets that each take a part of every entry).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

NAN = math.nan


def value_on(values, bar):
    return values if isinstance(values, (int, float)) else float(values[bar])


@dataclass
class Account:
    cfg: dict
    cash: float = 0.0
    side: int = 0
    lots: list = field(default_factory=list)
    trades: list = field(default_factory=list)

    # ---- costs
    def price_after_costs(self, price: float, buying: bool, market: bool) -> float:
        c = self.cfg
        frac = c["spread"] / 2 + (c["slippage"] if market else 0.0)
        absolute = c["spread_price"] / 2 + (c["slippage_price"] if market else 0.0)
        return price * (1 + frac) + absolute if buying else price * (1 - frac) - absolute

    def fee_for(self, qty: float, fill: float) -> float:
        return self.cfg["fee"] * qty * fill + self.cfg["fee_per_order"]

    # ---- leaving
    def rounded_part(self, qty: float, portion: float) -> float:
        """"Partial exits": the part of `qty` a portion closes: rounded down to the step, nothing
        below the step or the minimum, everything when less than the minimum would be left."""
        step, least = self.cfg["qty_step"], self.cfg["min_qty"]
        part = qty * portion
        if step > 0:
            part = math.floor(part / step + 1e-9) * step
        if not part > 0 or part < least:
            return 0.0
        return qty if qty - part <= 1e-9 * qty or qty - part < least else part

    def leave_part(self, lot: dict, bar: int, price: float, portion: float):
        """A partial signal exit: `portion` of the lot at the open; the rest stays open."""
        part = self.rounded_part(lot["qty"], portion)
        if part == 0:
            return
        if part == lot["qty"]:
            self.leave(lot, bar, price, "signal", market=True)
            return
        piece = dict(lot, qty=part, fee=lot["fee"] * part / lot["qty"])
        self.record(piece, bar, price, "signal", market=True, ambiguous=False)
        lot["qty"] -= part
        lot["fee"] -= piece["fee"]

    def entries(self) -> int:
        """Open entries: a laddered entry is several lots, all with its entry bar."""
        return len({lot["bar"] for lot in self.lots})

    def leave(self, lot: dict, bar: int, price: float, reason: str, market: bool, ambiguous=False):
        self.record(lot, bar, price, reason, market, ambiguous)
        self.lots.remove(lot)
        if not self.lots:
            self.side = 0

    def record(self, lot: dict, bar: int, price: float, reason: str, market: bool, ambiguous):
        fill = self.price_after_costs(price, buying=self.side < 0, market=market)
        fee = self.fee_for(lot["qty"], fill)
        self.cash += self.side * lot["qty"] * fill - fee
        self.trades.append({
            "side": "long" if self.side > 0 else "short", "entry_bar": lot["bar"], "exit_bar": bar,
            "entry_price": lot["fill"], "exit_price": fill, "qty": lot["qty"],
            "fees": lot["fee"] + fee, "exit_reason": reason,
            "ambiguous": ambiguous or lot["ambiguous"],
            "pnl": self.side * lot["qty"] * (fill - lot["fill"]) - lot["fee"] - fee})

    def leave_all(self, bar: int, price: float, reason: str):
        for lot in list(self.lots):
            self.leave(lot, bar, price, reason, market=True)

    def equity_after_closing_at(self, price: float) -> float:
        """Cash after closing every lot at market `price` (market-type costs, fees)."""
        fill = self.price_after_costs(price, buying=self.side < 0, market=True)
        return self.cash + sum(self.side * lot["qty"] * fill - self.fee_for(lot["qty"], fill)
                               for lot in self.lots)

    def liquidation_price(self) -> float:
        """"Ruin": the price at which closing everything leaves zero equity. The equity after
        closing is affine in the price: solved from its values at two prices."""
        at_0, at_1 = self.equity_after_closing_at(0.0), self.equity_after_closing_at(1.0)
        return -at_0 / (at_1 - at_0)

    # ---- entering
    def quantity(self, fill: float, stop: float, mark_price: float) -> float:
        c = self.cfg
        held = sum(l["qty"] for l in self.lots)
        equity = self.cash + self.side * held * mark_price
        per_unit = fill * (1 + c["fee"])
        mode, size = c["sizing"], c["size"]
        if mode == "equity":
            qty = (size * equity - c["fee_per_order"]) / per_unit
        elif mode == "units":
            qty = size
        elif mode == "cash":
            qty = (size - c["fee_per_order"]) / per_unit
        else:
            risk_per_unit = abs(fill - stop)
            qty = size * equity / risk_per_unit if risk_per_unit > 0 else 0.0
        affordable = (c["leverage"] * equity - held * mark_price - c["fee_per_order"]) / per_unit
        qty = min(qty, affordable) if not math.isnan(qty) else 0.0
        if c["qty_step"] > 0:
            qty = math.floor(qty / c["qty_step"] + 1e-9) * c["qty_step"]
        return qty if qty > 0 and qty >= c["min_qty"] else 0.0

    def enter(self, side: int, bar: int, signal_bar: int, price: float, how: str, market: bool):
        rules = self.cfg["long" if side > 0 else "short"]
        read = {}
        for name in ("stop_loss", "take_profit", "trailing_stop", "break_even"):
            if name in rules:
                mode, values = rules[name]
                v = value_on(values, signal_bar)
                if not v > 0:
                    return  # a declared level is missing on the signal bar: no trade
                read[name] = (mode, v)
        fill = self.price_after_costs(price, buying=side > 0, market=market)

        def level(name, away):  # away: -1 towards a loss, +1 towards a profit
            if name not in read:
                return NAN
            mode, v = read[name]
            if mode == "price":
                return v
            return fill * (1 + side * away * v) if mode == "percent" else fill + side * away * v

        stop = level("stop_loss", -1)
        qty = self.quantity(fill, stop, price)
        if qty == 0:
            return
        fee = self.fee_for(qty, fill)
        self.cash -= side * qty * fill + fee
        self.side = side
        trail = read.get("trailing_stop")
        lot = {"bar": bar, "price": price, "fill": fill, "qty": qty, "fee": fee, "stop": stop,
               "target": level("take_profit", +1), "trail": trail,
               "be": level("break_even", +1), "best": fill, "how": how, "ambiguous": False}
        # A ladder: each rung takes its part of the entry with its own target; the rest keeps the
        # plain target. A rung that rounds to nothing, or would leave less than the minimum
        # quantity, leaves its part to the rest.
        rest = lot
        for mode, value, portion in rules.get("ladder", ()):
            part = min(self.rounded_part(qty, portion), rest["qty"])
            if part == 0 or (part < rest["qty"] and rest["qty"] - part < self.cfg["min_qty"]):
                continue
            target = fill * (1 + side * value) if mode == "percent" else fill + side * value
            piece = dict(rest, qty=part, fee=rest["fee"] * part / rest["qty"], target=target)
            self.lots.append(piece)
            if part == rest["qty"]:
                return
            rest = dict(rest, qty=rest["qty"] - part, fee=rest["fee"] - piece["fee"])
        self.lots.append(rest)


def better(side, a, b):
    """Is price a at least as good as b for the holder of `side`?"""
    return a >= b if side > 0 else a <= b


def observe(lot: dict, side: int, price: float):
    """The lot has traded at `price`: best price so far, break-even trigger."""
    if better(side, price, lot["best"]):
        lot["best"] = price
    if not math.isnan(lot["be"]) and better(side, lot["best"], lot["be"]):
        if math.isnan(lot["stop"]) or better(side, lot["fill"], lot["stop"]):
            lot["stop"] = lot["fill"]
        lot["be"] = NAN


def stop_or_liquidation(lot: dict, side: int, liquidation: float) -> tuple[float, str]:
    """The lot's own stop when it is at least as tight as the liquidation price, else that."""
    stop, why = current_stop(lot, side)
    if math.isnan(liquidation) or (not math.isnan(stop) and better(side, stop, liquidation)):
        return stop, why
    return liquidation, "liquidation"


def current_stop(lot: dict, side: int) -> tuple[float, str]:
    trailing = NAN
    if lot["trail"] is not None:
        mode, v = lot["trail"]
        trailing = lot["best"] * (1 - side * v) if mode == "percent" else lot["best"] - side * v
    fixed = lot["stop"]
    if not math.isnan(trailing) and (math.isnan(fixed) or (better(side, trailing, fixed) and trailing != fixed)):
        return trailing, "trailing"
    return fixed, "stop"


def touched(side, extreme, level, adverse):
    if math.isnan(level):
        return False
    if adverse:
        return extreme <= level if side > 0 else extreme >= level
    return extreme >= level if side > 0 else extreme <= level


def bar_exits(acct: Account, bar: int, o: float, h: float, l: float, c: float, liquidation: float):
    """Stops and targets of every lot on this bar; the price of a liquidation, or None."""
    side, policy = acct.side, acct.cfg["fill"]
    liquidated = None
    for lot in list(acct.lots):
        fresh = lot["bar"] == bar and lot["how"] != "open"
        # "The first price": the open, or on the entry bar the market price the entry filled at.
        # A level already at or through it fills there, never at a price the bar did not trade.
        first = lot["price"] if lot["bar"] == bar else o
        stop, why = stop_or_liquidation(lot, side, liquidation)
        if touched(side, first, stop, adverse=True):
            acct.leave(lot, bar, first, why, market=True)
            liquidated = first if why == "liquidation" else liquidated
            continue
        if touched(side, first, lot["target"], adverse=False):
            acct.leave(lot, bar, first, "target", market=False)
            continue
        observe(lot, side, first)
        stop, why = stop_or_liquidation(lot, side, liquidation)
        low_side, high_side = (l, h) if side > 0 else (h, l)
        s_hit = touched(side, low_side, stop, adverse=True)
        t_hit = touched(side, high_side, lot["target"], adverse=False)
        # Which extreme surely came after an inside-the-bar fill: the one beyond the level the
        # price travelled to (down to a long limit: the low).
        came_down = lot["how"] == "down"
        s_sure = not fresh or (came_down if side > 0 else not came_down)
        t_sure = not fresh or (not came_down if side > 0 else came_down)
        ambiguous = (s_hit and t_hit) or (s_hit and not s_sure) or (t_hit and not t_sure)
        take = None
        if policy == "optimistic":
            take = "target" if t_hit else ("stop" if s_hit and s_sure else None)
        elif (policy == "open_proximity" and s_hit and t_hit and s_sure and t_sure
              and abs(lot["target"] - o) < abs(o - stop)):
            take = "target"
        else:
            take = "stop" if s_hit else ("target" if t_hit and t_sure else None)
        if take == "stop":
            acct.leave(lot, bar, stop, why, market=True, ambiguous=ambiguous)
            liquidated = stop if why == "liquidation" else liquidated
        elif take == "target":
            acct.leave(lot, bar, lot["target"], "target", market=False, ambiguous=ambiguous)
        else:
            lot["ambiguous"] |= ambiguous
            observe(lot, side, high_side if t_sure else c)
    if liquidated is not None:  # the whole account goes at once
        acct.leave_all(bar, liquidated, "liquidation")
    return liquidated


def triggered(order: dict, o: float, h: float, l: float):
    """(price, how) where a standing entry order fills on this bar, or None."""
    side, kind, px = order["side"], order["kind"], order["price"]
    if kind == "market":
        return o, "open"
    buy = side > 0
    if kind == "limit":
        if (o <= px) if buy else (o >= px):
            return o, "open"
        if buy and l <= px:
            return px, "down"
        if not buy and h >= px:
            return px, "up"
        return None
    if (o >= px) if buy else (o <= px):
        return o, "open"
    if buy and h >= px:
        return px, "up"
    if not buy and l <= px:
        return px, "down"
    return None


def reference_risk_backtest(bars: dict, signals: dict, cfg: dict):
    """(trades, equity per bar, position per bar, (ruin bar or None, shortfall)) for bars
    {open, high, low, close} (lists)."""
    acct = Account(cfg, cash=cfg["capital"])
    n = len(bars["open"])
    exit_reason, order, portion = None, None, 1.0
    equity, position = [], []
    ruin_bar, shortfall = None, 0.0
    for t in range(n):
        if ruin_bar is not None:  # ruined: nothing trades, the equity left stays
            equity.append(acct.cash)
            position.append(0.0)
            continue
        o, h, l, c = (bars[k][t] for k in ("open", "high", "low", "close"))
        if exit_reason and acct.side and portion < 1:
            for lot in list(acct.lots):
                acct.leave_part(lot, t, o, portion)
        elif exit_reason and acct.side:
            acct.leave_all(t, o, exit_reason)
        if acct.side:
            limit = cfg["long" if acct.side > 0 else "short"].get("exit_after")
            for lot in list(acct.lots):
                if limit and t - lot["bar"] >= limit:
                    acct.leave(lot, t, o, "time", market=True)
        if order and acct.side != -order["side"] and acct.entries() < cfg["pyramiding"]:
            hit = triggered(order, o, h, l)
            if hit:
                acct.enter(order["side"], t, order["bar"], hit[0], hit[1], market=order["kind"] != "limit")
                order = None
        liquidated = None
        if acct.side:
            liquidation = acct.liquidation_price()
            reached = touched(acct.side, l if acct.side > 0 else h, liquidation, adverse=True)
            liquidated = bar_exits(acct, t, o, h, l, c, liquidation if reached else NAN)
        if t == n - 1 and acct.side:
            acct.leave_all(t, c, "end_of_data")
        held = sum(lot["qty"] for lot in acct.lots)
        value = acct.cash + acct.side * held * c
        if liquidated is not None or not value > 0:
            acct.leave_all(t, c, "liquidation")  # still under water at the close
            ruin_bar, shortfall = t, max(0.0, -acct.cash)
            acct.cash = value = max(0.0, acct.cash)
            held = 0.0
        equity.append(value)
        position.append(acct.side * held)
        if ruin_bar is None:
            exit_reason, order = next_orders(acct, order, t, signals, cfg)
            portion = exit_portion(acct, exit_reason, t, signals, cfg)
    return acct.trades, equity, position, (ruin_bar, shortfall)


def exit_portion(acct: Account, reason, t: int, signals: dict, cfg: dict) -> float:
    """The part of every lot the exit at the next open closes: all, but for an exit signal of a
    side with portions that no opposite entry signal follows (a reversal needs a flat book)."""
    el, xl, es, xs = (bool(signals[k][t]) for k in ("enter_long", "exit_long", "enter_short", "exit_short"))
    opposite = (es and not el and not xs) if acct.side > 0 else (el and not es and not xl)
    if reason != "signal" or opposite:
        return 1.0
    values = cfg["long" if acct.side > 0 else "short"].get("exit_portion")
    portion = 1.0 if values is None else value_on(values, t)
    return portion if 0 < portion < 1 else 1.0


def next_orders(acct: Account, order, t: int, signals: dict, cfg: dict):
    el, xl, es, xs = (bool(signals[k][t]) for k in ("enter_long", "exit_long", "enter_short", "exit_short"))
    if el and es:
        el = es = False  # opposite entries cancel
    el, es = el and not xl, es and not xs  # an exit beats its own side's entry
    reason, new_side = None, 0
    if acct.side > 0:
        reason = "signal" if xl else ("reversal" if es else None)
        new_side = -1 if es else (1 if el and acct.entries() < cfg["pyramiding"] else 0)
    elif acct.side < 0:
        reason = "signal" if xs else ("reversal" if el else None)
        new_side = 1 if el else (-1 if es and acct.entries() < cfg["pyramiding"] else 0)
    else:
        new_side = 1 if el else (-1 if es else 0)
    if new_side:
        entry = cfg["long" if new_side > 0 else "short"].get("entry", ("market", None, None))
        kind, prices, expire = entry
        if kind == "market":
            return reason, {"side": new_side, "kind": kind, "price": NAN, "bar": t, "last": t + 1}
        px = value_on(prices, t)
        if not px > 0:
            return reason, None
        return reason, {"side": new_side, "kind": kind, "price": px, "bar": t,
                        "last": t + expire if expire else math.inf}
    if order and ((order["side"] > 0 and xl) or (order["side"] < 0 and xs) or order["last"] <= t):
        order = None
    return reason, order
