"""The registry of run settings a script may declare (`capital 10_000`, `fee 0.05%`, ...).

Like the builtin registry, this one table feeds the checker (unknown settings, value checks), the
docs, the REPL completer and the highlighters. The risk and optimizer features add entries here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class SettingSpec:
    """One setting: the kind of value it takes, its default and its meaning."""

    name: str
    kind: str  # "string" | "number" | "percent"
    default: Any
    doc: str
    example: str
    minimum: float | None = None
    maximum: float | None = None


SETTINGS: Mapping[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec("data", "string", None,
                    "The OHLCV CSV file to run on, relative to the script; `--data` overrides it. "
                    "Without either, the bundled EUR/USD hourly data is used.",
                    'data "../data/EURUSD_1h.csv"'),
        SettingSpec("capital", "number", 10_000.0, "Starting equity, in the quote currency.",
                    "capital 10_000", minimum=1e-9),
        SettingSpec("fee", "percent", 0.0, "Fee per side, as a percentage of the order's notional.",
                    "fee 0.05%", minimum=0.0, maximum=0.05),
        SettingSpec("slippage", "percent", 0.0,
                    "Price slippage per fill, as a percentage: buys fill higher, sells lower.",
                    "slippage 0.01%", minimum=0.0, maximum=0.05),
    )
}
