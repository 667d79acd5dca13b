"""The page's data side (charts/assets/data.js) run in the browser against numpy: the decoding of
what Python encoded, the visible window, and the per-pixel buckets (a line keeps each bucket's
minimum and maximum, a candle is the bucket's first open, highest high, lowest low, last close)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tradebot.charts import asset_text, encode_array, encode_times


@pytest.fixture(scope="module")
def lib(browser):
    context = browser.new_context()
    context.route("**/*", lambda route: route.abort())
    page = context.new_page()
    page.set_content("<html><body></body></html>")
    page.add_script_tag(content=asset_text("data.js"))

    def call(expression: str, **values):
        """`expression` evaluated with window.tradebotData as `lib` and `values` as `v`."""
        return page.evaluate(f"v => {{ const lib = window.tradebotData; return {expression}; }}", values)

    yield call
    context.close()


def walk(n: int, seed: int) -> np.ndarray:
    return 100 + np.cumsum(np.random.default_rng(seed).normal(0, 1, n))


def test_decoding_reads_what_python_encoded(lib) -> None:
    values = walk(1000, 1)
    times = np.arange(1000, dtype=np.int64) * 60_000 + 1_700_000_000_000
    times[500:] += 3_600_000  # a gap
    back = lib("[Array.from(lib.decodeArray(v.values)), Array.from(lib.decodeTimes(v.times))]",
               values=encode_array(values), times=json.loads(json.dumps(encode_times(times))))
    assert back[0] == pytest.approx(values.astype(np.float32).tolist())
    assert back[1] == times.tolist()


@pytest.mark.parametrize("n, lo, hi, buckets", [(10_000, 0, 10_000, 300), (10_000, 1234, 8765, 97), (500, 100, 400, 200)])
def test_line_buckets_keep_each_minimum_and_maximum(lib, n, lo, hi, buckets) -> None:
    ys = walk(n, n + lo)
    xs = np.arange(n, dtype=np.float64)
    points = lib("lib.linePoints(v.xs, v.ys, v.lo, v.hi, v.buckets)", xs=xs.tolist(), ys=ys.tolist(), lo=lo, hi=hi,
                 buckets=buckets)
    got = np.array(points)
    if hi - lo <= 2 * buckets:  # few enough: every point, untouched
        assert got[:, 0].tolist() == xs[lo:hi].tolist() and got[:, 1].tolist() == ys[lo:hi].tolist()
        return
    size = (hi - lo) / buckets
    edges = [(lo + int(np.floor(b * size)), min(hi, lo + int(np.floor((b + 1) * size)))) for b in range(buckets)]
    expected = []
    for s, e in edges:
        a, c = sorted((s + int(np.argmin(ys[s:e])), s + int(np.argmax(ys[s:e]))))
        expected += [[xs[a], ys[a]]] + ([[xs[c], ys[c]]] if c != a else [])
    assert got.tolist() == expected
    assert got[:, 1].max() == ys[lo:hi].max() and got[:, 1].min() == ys[lo:hi].min()  # no spike lost


def test_candle_buckets_aggregate_ohlc(lib) -> None:
    n, lo, hi, buckets = 5000, 250, 4750, 113
    close = walk(n, 7)
    open_ = np.concatenate([[100.0], close[:-1]])
    high, low = np.maximum(open_, close) + 0.3, np.minimum(open_, close) - 0.3
    xs = np.arange(n, dtype=np.float64) * 1000
    got = lib("lib.candlePoints(v.xs, {open: v.o, high: v.h, low: v.l, close: v.c}, v.lo, v.hi, v.buckets)",
              xs=xs.tolist(), o=open_.tolist(), h=high.tolist(), l=low.tolist(), c=close.tolist(), lo=lo, hi=hi,
              buckets=buckets)
    size = (hi - lo) / buckets
    expected = []
    for b in range(buckets):
        s, e = lo + int(np.floor(b * size)), min(hi, lo + int(np.floor((b + 1) * size)))
        expected.append([xs[s], open_[s], close[e - 1], low[s:e].min(), high[s:e].max()])
    assert got == expected


def test_the_window_covers_the_visible_range(lib) -> None:
    xs = (np.arange(100) * 10.0).tolist()
    assert lib("lib.windowOf(v.xs, 205, 497)", xs=xs) == [20, 51]  # bars 20 (t=200) to 50 (t=500): one beyond each edge
    assert lib("lib.windowOf(v.xs, -50, 5000)", xs=xs) == [0, 100]
