"""The registry of run settings a script may declare (`capital 10_000`, `fee 0.05%`, ...).

Like the builtin registry, this one table feeds the checker (unknown settings, value checks), the
docs, the REPL completer and the highlighters. The risk and optimizer features add entries here.

A setting is written `NAME [long|short] [at|risk] VALUE [UNIT WORDS]`. Its spec describes the
plain form (`kind`, bounds, `example`); `forms` lists the other ways to write it, each with its own
result key (`fee 1 per order` sets `fee_per_order`, so both fees can be given). Plain settings are
checked by checker.py; sided ones, forms and the kinds below by risk_check.py.

Kinds: "string", "number", "percent" (a % value is required); "choice" (one of `choices`, a bare
word); "whole" (a whole number); "level" (a percentage of the entry price, or a price distance
that may be a series, read on the signal bar); "price" (an absolute price, may be a series);
"form" (only the `forms` are valid: `size`); "series" (a number series, read per bar: `rank by`);
"universe" (a quoted glob of files, or symbols separated by commas; checker.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..market.vocab import FILL_POLICIES, MAX_FEE, MAX_LEVERAGE, MAX_PYRAMIDING, MAX_SLIPPAGE

EXTENDED_KINDS = ("choice", "whole", "level", "price", "form", "series")


@dataclass(frozen=True)
class SettingForm:
    """Another way to write a setting: a word before the value (`mark`) and words after it
    (`unit`), with its own kind and result key. `tag` names the form where several share a key
    (the sizing modes)."""

    unit: str
    kind: str
    key: str
    default: Any
    example: str
    mark: str | None = None
    tag: str | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class SettingSpec:
    """One setting: the kind of value it takes, its default and its meaning."""

    name: str
    kind: str  # "string" | "number" | "percent" | one of EXTENDED_KINDS
    default: Any
    doc: str
    example: str
    minimum: float | None = None
    maximum: float | None = None
    sided: bool = False  # may be written for one side: `stop_loss long 2%`
    forms: tuple[SettingForm, ...] = ()
    choices: tuple[str, ...] = ()

    @property
    def extended(self) -> bool:
        """Checked by risk_check.py rather than by the checker's plain-setting path."""
        return self.sided or bool(self.forms) or self.kind in EXTENDED_KINDS


def _level(name: str, doc: str, example: str, *, at: str | None = None,
           maximum: float | None = None) -> SettingSpec:
    forms = (SettingForm("", "price", name, None, at, mark="at"),) if at else ()
    return SettingSpec(name, "level", None, doc, example, minimum=0.0, maximum=maximum,
                       sided=True, forms=forms)


def _price_cost(name: str, doc: str, example: str, ticks_example: str) -> SettingSpec:
    """A cost on the fill price: a percentage, or `N ticks` (its own key, in ticks)."""
    ticks = SettingForm("ticks", "number", f"{name}_ticks", 0.0, ticks_example, minimum=0.0)
    return SettingSpec(name, "percent", 0.0, doc, example, minimum=0.0, maximum=MAX_SLIPPAGE, forms=(ticks,))


def _size(unit: str, kind: str, tag: str, example: str, *, mark: str | None = None,
          maximum: float | None = None) -> SettingForm:
    return SettingForm(unit, kind, "size", ("equity", 1.0), example, mark=mark, tag=tag,
                       minimum=0.0, maximum=maximum)


# The resolved setting keys that are trading costs: the optimizer's doubled-costs stress run
# scales every one of them, so a new cost added here is stressed too.
COST_SETTINGS = ("fee", "fee_per_order", "slippage", "slippage_ticks", "spread", "spread_ticks")

SETTINGS: Mapping[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec("data", "string", None,
                    "The OHLCV CSV file to run on, relative to the script; `--data` overrides it. "
                    "Without either, the bundled EUR/USD hourly data is used.",
                    'data "../data/EURUSD_1h.csv"'),
        SettingSpec("capital", "number", 10_000.0, "Starting equity, in the quote currency.",
                    "capital 10_000", minimum=1e-9),
        SettingSpec("fee", "percent", 0.0,
                    "Fee per fill, as a percentage of its notional; `fee 1 per order` adds a fixed "
                    "fee per fill, in the quote currency (both may be given).",
                    "fee 0.05%", minimum=0.0, maximum=MAX_FEE,
                    forms=(SettingForm("per order", "number", "fee_per_order", 0.0,
                                       "fee 1 per order", minimum=0.0),)),
        _price_cost("slippage",
                    "Price slippage per market-type fill, as a percentage (`slippage 0.01%`) or "
                    "in ticks of `tick_size` (`slippage 2 ticks`): buys fill higher, sells lower.",
                    "slippage 0.01%", "slippage 2 ticks"),
        _price_cost("spread",
                    "The bid-ask spread, as a percentage of the price or in ticks (`spread 1 "
                    "tick`); bars are mid prices, so every fill pays half of it.",
                    "spread 0.02%", "spread 1 tick"),
        SettingSpec("tick_size", "number", None,
                    "The instrument's price increment, for settings given in ticks.",
                    "tick_size 0.00001", minimum=1e-12),
        SettingSpec("fill", "choice", "pessimistic",
                    "Which level fills first when one bar reaches both a stop and a target: "
                    "`pessimistic` (the stop), `optimistic` (the target) or `open_proximity` "
                    "(the level nearer the open).",
                    "fill pessimistic", choices=FILL_POLICIES),
        _level("stop_loss",
               "Exit when the price falls (long) or rises (short) this far from the entry: a "
               "percentage, a price distance (`3 * atr(14)`), or a price with `at`.",
               "stop_loss 2%", at="stop_loss at lowest(low, 10)", maximum=0.99),
        _level("take_profit",
               "Exit when the price gains this much from the entry: a percentage, a price "
               "distance, or a price with `at`. `take_profit long 2% exit 50%` is one rung of a "
               "ladder: half of each entry exits there (docs/execution.md, \"Partial exits\").",
               "take_profit 3 * atr(14)", at="take_profit at highest(high, 20)"),
        _level("trailing_stop",
               "A stop that follows the best price since the entry at this distance: a "
               "percentage of that price or a price distance (`2 * atr(14)`).",
               "trailing_stop 1.5%", maximum=0.99),
        _level("break_even",
               "Once the price has gained this much (a percentage or a price distance), the "
               "stop moves to the entry price.",
               "break_even 1%"),
        SettingSpec("size", "form", ("equity", 1.0),
                    "How much each entry buys or sells: `size 50% of equity`, `size 2 units`, "
                    "`size 1000 cash`, or `size risk 1% to stop` (the quantity whose loss at the "
                    "stop is 1% of the equity). Default: all the equity.",
                    "size 50% of equity",
                    forms=(_size("of equity", "percent", "equity", "size 50% of equity", maximum=100.0),
                           _size("units", "number", "units", "size 2 units"),
                           _size("cash", "number", "cash", "size 1000 cash"),
                           _size("to stop", "percent", "risk", "size risk 1% to stop", mark="risk",
                                 maximum=1.0))),
        SettingSpec("universe", "universe", None,
                    "Run on many symbols with one account: symbols from the candle store "
                    "(`universe BTCUSDT, ETHUSDT, SOLUSDT`, fetched with `tradebot fetch --universe "
                    "SCRIPT`), or a glob of CSV files relative to the script (`universe "
                    "\"../data/*/1h.csv\"`; each symbol is named by the text the last wildcard "
                    "matched). docs/execution.md, \"Portfolios\".",
                    'universe "../data/generated/*_generated_1h.csv"'),
        SettingSpec("max_positions", "whole", None,
                    "In a universe, the most symbols held at once; more entries than free slots "
                    "are taken in `rank by` order. Default: every symbol.",
                    "max_positions 3", minimum=1, maximum=10_000),
        SettingSpec("rank", "form", None,
                    "In a universe, the order entries take the free slots in: higher first, by "
                    "the value on the signal bar; ties and a missing value go by symbol name.",
                    "rank by roc(close, 20)",
                    forms=(SettingForm("", "series", "rank", None, "rank by roc(close, 20)",
                                       mark="by"),)),
        SettingSpec("min_qty", "number", 0.0,
                    "The smallest quantity an order may have; smaller entries are skipped.",
                    "min_qty 0.001", minimum=0.0),
        SettingSpec("qty_step", "number", 0.0,
                    "The quantity increment (lot size): quantities are rounded down to it.",
                    "qty_step 0.001", minimum=0.0),
        SettingSpec("leverage", "number", 1.0,
                    "The most the gross position may be worth, as a multiple of the equity; "
                    "at 1 a long never borrows cash.",
                    "leverage 2", minimum=1.0, maximum=MAX_LEVERAGE),
        SettingSpec("pyramiding", "whole", 1,
                    "The most entries one position may add up (each its own trade with its own "
                    "stops); 1, the default, means an entry signal while in a position is ignored.",
                    "pyramiding 3", minimum=1, maximum=MAX_PYRAMIDING),
    )
}
