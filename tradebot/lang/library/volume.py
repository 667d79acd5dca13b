"""Volume indicators: on-balance volume, accumulation/distribution and its oscillator, Chaikin
money flow, and the volume-weighted average price (session-anchored and rolling).

obv, ad and adosc equal their TA-Lib functions (tests/lang/test_talib.py); cmf and vwap follow the
definitions cited in their `source`. Running totals skip bars with a missing input.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from ..builtin_spec import HLCV, indicator, length, price, series, text
from .calendar import DAY_MS, MINUTE_MS, check_session, local_clock, naive_in_session
from .calendar import naive_local, parse_session, session_mask, zone
from .smoothing import naive_skip
from .naive import arr, fma_exact, naive_windows, nan_array
from .support import kernel, share, volume_weighted, window

CATEGORY = "volume"


def _obv(src: pl.Expr, volume: pl.Expr) -> pl.Expr:
    return kernel("obv", [src, volume], module="wilder")  # a running total, skipping missing bars


def _ref_obv(src, volume):
    def run(src, volume):
        out = nan_array(len(src))
        total = 0.0
        for t in range(len(src)):
            if t == 0 or src[t] > src[t - 1]:
                total += volume[t]
            elif src[t] < src[t - 1]:
                total -= volume[t]
            out[t] = total
        return out
    return naive_skip(run, [src, volume])


def naive_money_flow_volume(high, low, close, volume) -> np.ndarray:
    high, low, close, volume = arr(high), arr(low), arr(close), arr(volume)
    out = nan_array(len(close))
    for t in range(len(close)):
        if np.isnan([high[t], low[t], close[t], volume[t]]).any():
            continue
        span = high[t] - low[t]
        out[t] = (close[t] - low[t] - (high[t] - close[t])) / span * volume[t] if span > 0 else 0.0
    return out


def _ref_ad(high, low, close, volume):
    flow = naive_money_flow_volume(high, low, close, volume)
    out, total = nan_array(len(flow)), 0.0
    for t, value in enumerate(flow):
        if not math.isnan(value):
            total += value
            out[t] = total
    return out


def _ref_adosc(fast, slow, high, low, close, volume):
    def run(high, low, close, volume):
        flow = naive_money_flow_volume(high, low, close, volume)
        out = nan_array(len(flow))
        line = fast_ema = slow_ema = 0.0
        fk, sk = 2.0 / (fast + 1.0), 2.0 / (slow + 1.0)
        for t in range(len(flow)):
            line += flow[t]
            fast_ema = line if t == 0 else fma_exact(1.0 - fk, fast_ema, fk * line)
            slow_ema = line if t == 0 else fma_exact(1.0 - sk, slow_ema, sk * line)
            if t >= max(fast, slow) - 1:
                out[t] = fast_ema - slow_ema
        return out
    return naive_skip(run, [high, low, close, volume])


def _cmf(n: int, high, low, close, volume) -> pl.Expr:
    # sum(money_flow_volume, n) / sum(volume, n), missing where the volume sum is 0.
    return window("money_flow_ratio", [high, low, close, volume], n, module="sums", summed=True)


def _ref_cmf(n, high, low, close, volume):
    flow = naive_money_flow_volume(high, low, close, volume)
    return naive_windows([flow, volume], n,
                         lambda f, v: float(np.sum(f) / np.sum(v)) if np.sum(v) != 0 else np.nan)


def check_anchor(session: str) -> tuple[str, str | None] | None:
    return None if session == "" else check_session(session)


def _vwap(src: pl.Expr, session: str, tz: str, volume: pl.Expr, time: pl.Expr) -> pl.Expr:
    clock = local_clock(time, tz)  # wall-clock ms in tz
    if session:  # the key: the local day the session started on (past midnight: the day before)
        start, _ = parse_session(session)  # type: ignore[misc]  # validated when checked
        key = share((clock - start * MINUTE_MS) // DAY_MS)
        inside = session_mask((clock // MINUTE_MS) % 1440, session)
    else:
        key, inside = share(clock // DAY_MS), pl.lit(True)
    valid = src.is_not_null() & volume.is_not_null() & key.is_not_null() & inside.fill_null(False)
    # A kernel: Polars' cum_sum().over(day) took 940 ms for 1M bars (loaded machine).
    return window("anchored_vwap", [src, volume, key, valid], module="pine_kernels")


def _ref_vwap(src, session, tz, volume, time):
    src, volume, time = arr(src), arr(volume), arr(time)
    start = parse_session(session)[0] if session else 0  # type: ignore[index]
    out = nan_array(len(src))
    sums: dict[object, list[float]] = {}
    for t in range(len(src)):
        moment = naive_local(time[t], tz)
        if moment is None or np.isnan([src[t], volume[t]]).any():
            continue
        if session and not naive_in_session(moment.hour * 60 + moment.minute, session):
            continue
        key = (moment.replace(tzinfo=None) - dt.timedelta(minutes=start)).date()
        totals = sums.setdefault(key, [0.0, 0.0])
        totals[0] += src[t] * volume[t]
        totals[1] += volume[t]
        out[t] = totals[0] / totals[1] if totals[1] != 0 else np.nan
    return out


def _vwap_rolling(n: int, src: pl.Expr, volume: pl.Expr) -> pl.Expr:
    return volume_weighted(src, volume, n)


def _ref_vwap_rolling(n, src, volume):
    return naive_windows([src, volume], n,
                         lambda s, v: float(np.sum(s * v) / np.sum(v)) if np.sum(v) != 0 else np.nan)



BUILTINS = (
    indicator("obv", (series("src", "the price compared bar to bar"), price("volume")),
              _obv, _ref_obv,
              doc="On-balance volume (Granville): a running total adding the volume on bars where src "
                  "rose, subtracting it where src fell; starts at the first bar's volume.",
              example="obv(close) > sma(obv(close), 20)", category=CATEGORY,
              source="TA-Lib OBV"),
    indicator("ad", HLCV, lambda h, l, c, v: kernel("running_flow", [h, l, c, v], module="wilder", probed=True,
                                                       summed=True), _ref_ad,
              doc="Accumulation/distribution line (Chaikin): a running total of volume times the close's "
                  "location in the bar's range, ((close - low) - (high - close)) / (high - low).",
              example="ad() > ad()[10]", category=CATEGORY,
              source="TA-Lib AD"),
    indicator("adosc", (length("fast", 3), length("slow", 10), *HLCV),
              lambda f, s, h, l, c, v: kernel("adosc", [h, l, c, v], f, s, probed=True, summed=True), _ref_adosc,
              doc="Chaikin A/D oscillator: ema(fast) - ema(slow) of the accumulation/distribution line, "
                  "both seeded with its first value.",
              example="adosc(3, 10) crosses above 0", category=CATEGORY,
              warmup="max(fast, slow) - 1", source="TA-Lib ADOSC"),
    indicator("cmf", (length(default=20), *HLCV), _cmf, _ref_cmf,
              doc="Chaikin money flow: the sum of money-flow volume over `length` bars / the sum of "
                  "volume; missing when no volume traded.",
              example="cmf(20) > 0.1", category=CATEGORY,
              warmup="length - 1",
              source="Marc Chaikin's money flow as StockCharts ChartSchool \"Chaikin Money Flow\" and "
                     "TradingView's CMF: sum(MFV, n) / sum(volume, n)"),
    indicator("vwap", (series("src", "the price averaged"),
                       text("session", "", "\"HH:MM-HH:MM\" to anchor at a session's start (missing "
                            "outside it); \"\" for the whole day", validate=check_anchor),
                       zone(), price("volume"), price("time")),
              _vwap, _ref_vwap,
              doc="Volume-weighted average price of the day (or session) so far: sum(src * volume) / "
                  "sum(volume) since the day began in the time zone `tz` (00:00 UTC by default), or since "
                  "the session's start when one is given (`vwap(hlc3, \"09:30-16:00\", "
                  "\"America/New_York\")`), missing outside the session.",
              example="close > vwap(hlc3)", category=CATEGORY,
              source="Session VWAP as TradingView ta.vwap with a daily (or session) anchor: cumulative sum(src * "
                     "volume) / sum(volume) from each local 00:00 (or session start)"),
    indicator("vwap_rolling", (length(), series("src", "the price averaged"), price("volume")),
              _vwap_rolling, _ref_vwap_rolling,
              doc="Rolling volume-weighted average price: sum(src * volume) / sum(volume) over the last "
                  "`length` bars.",
              example="close > vwap_rolling(24, hlc3)", category=CATEGORY,
              warmup="length - 1", source="sum(src * volume, n) / sum(volume, n) (equals vwma)"),
)
