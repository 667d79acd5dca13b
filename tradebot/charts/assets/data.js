/* tradebot report, the data side: the embedded arrays decoded into typed arrays, and the visible
   window of a series cut into per-pixel buckets. No drawing and no DOM here, so it is tested on its
   own (tests/report/test_buckets.py runs it in node against numpy). */
(function (root) {
  'use strict';

  // ------------------------------------------------------------------ decoding
  function decodeArray(enc) {
    if (!enc) return null;
    var key = enc.f32 !== undefined ? 'f32' : 'f64';
    var text = atob(enc[key]);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return key === 'f32' ? new Float32Array(bytes.buffer) : new Float64Array(bytes.buffer);
  }

  function decodeTimes(enc) {
    if (enc.f64 !== undefined) return decodeArray(enc);
    var out = new Float64Array(enc.n);
    var jumps = {};
    enc.jumps.forEach(function (j) { jumps[j[0]] = j[1]; });
    var t = enc.start;
    for (var i = 0; i < enc.n; i++) {
      if (i > 0) t += (jumps[i] !== undefined ? jumps[i] : enc.step);
      out[i] = t;
    }
    return out;
  }

  // ------------------------------------------------------------------ windows and buckets
  function lowerBound(xs, value) {
    var lo = 0, hi = xs.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (xs[mid] < value) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function windowOf(xs, t0, t1) {
    var lo = Math.max(0, lowerBound(xs, t0) - 1);
    var hi = Math.min(xs.length, lowerBound(xs, t1) + 1);
    return [lo, Math.max(lo, hi)];
  }

  /* Points of a line in [lo, hi): all of them when they fit, else the min and the max of each
     bucket, in time order (the line keeps every spike a pixel can show). */
  function linePoints(xs, ys, lo, hi, buckets) {
    var out = [], n = hi - lo, i, v;
    if (n <= 2 * buckets) {
      for (i = lo; i < hi; i++) { v = ys[i]; out.push([xs[i], v === v ? v : null]); }
      return out;
    }
    var size = n / buckets;
    for (var b = 0; b < buckets; b++) {
      var s = lo + Math.floor(b * size), e = Math.min(hi, lo + Math.floor((b + 1) * size));
      var iMin = -1, iMax = -1;
      for (i = s; i < e; i++) {
        v = ys[i];
        if (v !== v) continue;
        if (iMin < 0 || v < ys[iMin]) iMin = i;
        if (iMax < 0 || v > ys[iMax]) iMax = i;
      }
      if (iMin < 0) { out.push([xs[s], null]); continue; }
      var a = Math.min(iMin, iMax), c = Math.max(iMin, iMax);
      out.push([xs[a], ys[a]]);
      if (c !== a) out.push([xs[c], ys[c]]);
    }
    return out;
  }

  /* Candles of [lo, hi): every bar when they fit, else one candle per bucket (first open, highest
     high, lowest low, last close) at the bucket's first time. Rows are [time, open, close, low, high]. */
  function candlePoints(xs, bars, lo, hi, buckets) {
    var out = [], n = hi - lo, i;
    if (n <= buckets) {
      for (i = lo; i < hi; i++) out.push([xs[i], bars.open[i], bars.close[i], bars.low[i], bars.high[i]]);
      return out;
    }
    var size = n / buckets;
    for (var b = 0; b < buckets; b++) {
      var s = lo + Math.floor(b * size), e = Math.min(hi, lo + Math.floor((b + 1) * size));
      if (e <= s) continue;
      var high = -Infinity, low = Infinity;
      for (i = s; i < e; i++) { if (bars.high[i] > high) high = bars.high[i]; if (bars.low[i] < low) low = bars.low[i]; }
      out.push([xs[s], bars.open[s], bars.close[e - 1], low, high]);
    }
    return out;
  }


  /* Trades travel as one list per field (model.py `_columns`); the page works with records. */
  function records(columns) {
    var keys = Object.keys(columns), n = keys.length ? columns[keys[0]].length : 0, out = [];
    for (var i = 0; i < n; i++) {
      var row = {};
      for (var k = 0; k < keys.length; k++) row[keys[k]] = columns[keys[k]][i];
      out.push(row);
    }
    return out;
  }

  root.tradebotData = { decodeArray: decodeArray, decodeTimes: decodeTimes, lowerBound: lowerBound, windowOf: windowOf,
    linePoints: linePoints, candlePoints: candlePoints, records: records };
})(typeof window !== 'undefined' ? window : globalThis);
