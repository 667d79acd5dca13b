/* tradebot report: draws the embedded model (see tradebot/report/model.py) with ECharts.

   Big series stay in typed arrays; each chart shows only the visible window, at full resolution
   when it has fewer bars than pixels, otherwise downsampled per pixel bucket (min and max of a
   line, OHLC of the bucket's bars), recomputed on every zoom. So a million bars cost ECharts a
   few thousand points at any zoom level. */
(function () {
  'use strict';

  var COLORS = { equity: '#2f6fdf', hold: '#9aa3af', drawdown: '#d9534f', up: '#0a9a55', down: '#d64545',
    stop: '#d64545', target: '#0a9a55', ambiguous: '#f0a020' };
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var MIN_CANDLE_PX = 4;
  var model = JSON.parse(document.getElementById('tradebot-model').textContent);
  var api = window.tradebot = { model: model, charts: {}, ready: false, errors: [] };

  var lib = window.tradebotData;  // data.js: decoding, windows and buckets
  var decodeArray = lib.decodeArray, decodeTimes = lib.decodeTimes, windowOf = lib.windowOf,
    linePoints = lib.linePoints, candlePoints = lib.candlePoints, records = lib.records;

  // ------------------------------------------------------------------ formatting
  function fmt(v, digits) {
    if (v === null || v === undefined) return '';
    if (typeof v !== 'number') return String(v);
    return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function fmtPrice(v) { return v === null || v === undefined ? '' : Number(v.toPrecision(8)).toString(); }
  function fmtTime(ms) { return new Date(ms).toISOString().slice(0, 16).replace('T', ' '); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function card(title, children) { return el('div', { 'class': 'card' }, [title ? el('h2', { text: title }) : null].concat(children)); }
  function empty(text) { return el('div', { 'class': 'empty', text: text }); }
  function notesBox(notes) {
    if (!notes || !notes.length) return document.createDocumentFragment();
    return el('ul', { 'class': 'notes' }, notes.map(function (n) { return el('li', { text: n }); }));
  }

  function makeChart(container, cls) {
    var div = el('div', { 'class': 'chart ' + (cls || '') });
    container.appendChild(div);
    return div;
  }

  function initChart(div, name) {
    var chart = echarts.init(div, null, { renderer: 'canvas' });
    api.charts[name] = chart;
    window.addEventListener('resize', function () { chart.resize(); });
    return chart;
  }

  function buckets(chart) { return Math.max(50, Math.floor(chart.getWidth() * 0.9)); }

  /* The visible time range of a chart with a dataZoom over a time axis fixed to [t0, t1]. */
  function visibleRange(chart, t0, t1) {
    var dz = chart.getOption().dataZoom[0];
    var start = dz.start === undefined ? 0 : dz.start, end = dz.end === undefined ? 100 : dz.end;
    return [t0 + (t1 - t0) * start / 100, t0 + (t1 - t0) * end / 100];
  }

  function onZoom(chart, redraw) {
    var pending = false;
    chart.on('datazoom', function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; redraw(); });
    });
  }

  function tooltipTime(params) {
    var list = Array.isArray(params) ? params : [params];
    if (!list.length) return '';
    var lines = [fmtTime(list[0].value[0])];
    list.forEach(function (p) {
      var v = p.value;
      if (p.seriesType === 'candlestick') {
        lines.push('O ' + fmtPrice(v[1]) + ' H ' + fmtPrice(v[4]) + ' L ' + fmtPrice(v[3]) + ' C ' + fmtPrice(v[2]));
      } else if (v && v[1] !== null && v[1] !== undefined) {
        lines.push(p.marker + p.seriesName + ': ' + fmtPrice(v[1]));
      }
    });
    return lines.join('<br>');
  }

  // ------------------------------------------------------------------ a backtest
  function Backtest(page) {
    page.trades = records(page.trades);
    this.page = page;
    this.time = decodeTimes(page.time);
    this.equity = decodeArray(page.equity);
    this.n = this.time.length;
    this.t0 = this.n ? this.time[0] : 0;
    this.t1 = this.n > 1 ? this.time[this.n - 1] : this.t0 + 1;
    if (page.bars) {
      this.bars = { open: decodeArray(page.bars.open), high: decodeArray(page.bars.high),
        low: decodeArray(page.bars.low), close: decodeArray(page.bars.close) };
      var first = this.bars.close[0], capital = page.capital;
      // Buy and hold: the capital invested at the first close (metrics: buy_and_hold_return_pct).
      this.hold = new Float64Array(this.n);
      for (var i = 0; i < this.n; i++) this.hold[i] = capital * this.bars.close[i] / first;
    }
    // Underwater: equity below its running peak, in percent (as the runtime's drawdown column).
    this.drawdown = new Float64Array(this.n);
    var peak = -Infinity;
    for (var k = 0; k < this.n; k++) {
      if (this.equity[k] > peak) peak = this.equity[k];
      this.drawdown[k] = peak > 0 ? 100 * (this.equity[k] / peak - 1) : -100;
    }
    this.series = page.series.map(function (s) { return { name: s.name, overlay: s.overlay, values: decodeArray(s.values) }; });
    this.chart = null;
  }

  Backtest.prototype.tabs = function (prefix) {
    var self = this;
    return [
      { name: prefix + 'Overview', build: function (c) { self.overview(c); } },
      { name: prefix + 'Performance', build: function (c) { self.performance(c); } },
      { name: prefix + 'Trades', build: function (c) { self.tradesTable(c); } },
      { name: prefix + 'Chart', build: function (c) { self.priceChart(c); } },
      { name: prefix + 'Calendar', build: function (c) { self.calendar(c); } }
    ];
  };

  Backtest.prototype.timeAxis = function (gridIndex, showLabels) {
    return { type: 'time', gridIndex: gridIndex, min: this.t0, max: this.t1, axisLabel: { show: showLabels, hideOverlap: true },
      splitLine: { show: false } };
  };

  Backtest.prototype.overview = function (container) {
    var self = this;
    if (this.suffix) container.appendChild(notesBox(this.page.notes));  // a page's own notes sit above its tabs
    if (this.n < 2) { container.appendChild(card('Equity', [empty('One bar only: no curve to draw (equity ' + fmt(this.equity[0], 2) + ').')])); return; }
    var div = makeChart(card('Equity and drawdown', []), 'tall');
    container.appendChild(div.parentNode);
    var chart = initChart(div, 'overview' + (this.suffix || ''));
    var holdName = this.holdName || 'Buy & hold';
    var legend = ['Equity'].concat(this.hold ? [holdName] : []).concat(['Drawdown %']);
    chart.setOption({
      animation: false,
      legend: { data: legend, top: 0 },
      tooltip: { trigger: 'axis', formatter: tooltipTime },
      axisPointer: { link: [{ xAxisIndex: 'all' }] },
      // Fixed margins (no automatic room for labels): stacked panes must share one left edge.
      grid: [{ left: 70, right: 30, outerBoundsMode: 'none', top: 30, height: '58%' }, { left: 70, right: 30, outerBoundsMode: 'none', top: '72%', bottom: 60 }],
      xAxis: [this.timeAxis(0, false), this.timeAxis(1, true)],
      yAxis: [{ scale: true, gridIndex: 0, name: 'equity' }, { gridIndex: 1, name: 'drawdown %', max: 0, min: function (e) { return e.min < 0 ? Math.floor(e.min) : -1; } }],
      dataZoom: [{ type: 'inside', xAxisIndex: [0, 1], filterMode: 'none' },
        { type: 'slider', xAxisIndex: [0, 1], filterMode: 'none', bottom: 10, showDataShadow: false }],
      series: [{ name: 'Equity', type: 'line', showSymbol: false, xAxisIndex: 0, yAxisIndex: 0, data: [], lineStyle: { width: 1.5 }, color: COLORS.equity },
        { name: holdName, type: 'line', showSymbol: false, xAxisIndex: 0, yAxisIndex: 0, data: [], lineStyle: { width: 1 }, color: COLORS.hold },
        { name: 'Drawdown %', type: 'line', showSymbol: false, xAxisIndex: 1, yAxisIndex: 1, data: [], areaStyle: { opacity: 0.35 }, lineStyle: { width: 1 }, color: COLORS.drawdown }]
    });
    function redraw() {
      var range = visibleRange(chart, self.t0, self.t1);
      var w = windowOf(self.time, range[0], range[1]), b = buckets(chart);
      var eq = linePoints(self.time, self.equity, w[0], w[1], b);
      var hold = self.hold ? linePoints(self.time, self.hold, w[0], w[1], b) : [];
      var dd = linePoints(self.time, self.drawdown, w[0], w[1], b);
      // Only the visible window is given to ECharts, so its own axis scaling fits the view.
      chart.setOption({ series: [{ data: eq }, { data: hold }, { data: dd }] });
    }
    onZoom(chart, redraw);
    redraw();
  };

  Backtest.prototype.performance = function (container) {
    var page = this.page;
    container.appendChild(card('Performance', [plainTable(page.metrics.header, page.metrics.rows)]));
    var settings = Object.assign({}, page.settings);
    container.appendChild(el('div', { 'class': 'grid2' }, [card('Settings', [keyValues(settings)]),
      card('Params', [Object.keys(page.params).length ? keyValues(page.params) : empty('none')])]));
  };

  var TRADE_COLUMNS = [['#', 'index'], ['Side', 'side'], ['Entry time', 'entry_time'], ['Entry', 'entry_price'],
    ['Exit time', 'exit_time'], ['Exit', 'exit_price'], ['Qty', 'qty'], ['P&L', 'pnl'], ['Return %', 'return_pct'],
    ['Bars', 'bars_held'], ['Reason', 'exit_reason'], ['Stop', 'stop'], ['Target', 'target']];
  var MAX_TRADE_ROWS = 5000;

  Backtest.prototype.tradeColumns = function () { return TRADE_COLUMNS; };
  /* The trades the price chart marks (a portfolio's: the chosen symbol's). */
  Backtest.prototype.chartTrades = function () { return this.page.trades; };

  Backtest.prototype.tradesTable = function (container) {
    var self = this, trades = this.page.trades, columns = this.tradeColumns();
    if (!trades.length) { container.appendChild(card('Trades', [empty('No trades: the strategy never entered a position.')])); return; }
    var rows = trades.map(function (t, i) { return Object.assign({ index: i + 1 }, t); });
    var table = el('table', { 'class': 'sortable', id: 'trades-table' + (this.suffix || '') });
    var head = el('tr', {}, columns.map(function (c) { return el('th', { text: c[0], 'data-key': c[1] }); }));
    table.appendChild(el('thead', {}, [head]));
    var body = el('tbody');
    table.appendChild(body);
    var note = el('p', { text: '' });
    function fill() {
      body.textContent = '';
      rows.slice(0, MAX_TRADE_ROWS).forEach(function (t) {
        var tr = el('tr', { 'class': 'clickable', 'data-trade': t.index - 1, title: 'show this trade on the chart' },
          columns.map(function (c) {
            var v = t[c[1]], text;
            if (c[1] === 'entry_time' || c[1] === 'exit_time') text = v.slice(0, 16).replace('T', ' ');
            else if (c[1] === 'pnl') text = fmt(v, 2);
            else if (c[1] === 'return_pct') text = fmt(v, 2);
            else if (c[1] === 'qty') text = fmt(v, 4);
            else if (c[1] === 'exit_reason') text = v + (t.ambiguous ? '*' : '');
            else if (typeof v === 'number' && c[1] !== 'index' && c[1] !== 'bars_held') text = fmtPrice(v);
            else text = v === null || v === undefined ? '' : String(v);
            var td = el('td', { text: text });
            if (c[1] === 'pnl' || c[1] === 'return_pct') td.className = v > 0 ? 'pos' : v < 0 ? 'neg' : '';
            return td;
          }));
        tr.addEventListener('click', function () { self.showTrade(t.index - 1); });
        body.appendChild(tr);
      });
      note.textContent = (rows.length > MAX_TRADE_ROWS ? 'Showing ' + MAX_TRADE_ROWS + ' of ' + rows.length + ' trades (sort to see others). ' : '') +
        (trades.some(function (t) { return t.ambiguous; }) ? '* decided by the fill policy: the bar\'s order of touches is unknown. ' : '') +
        'Click a trade to see it on the chart.';
    }
    sortable(head, rows, fill);
    fill();
    container.appendChild(card('Trades (' + trades.length + ')', [note, el('div', { 'class': 'scroll' }, [table])]));
  };

  Backtest.prototype.showTrade = function (index) {
    var t = this.page.trades[index];
    var pad = Math.max(30, t.exit_bar - t.entry_bar);
    var lo = Math.max(0, t.entry_bar - pad), hi = Math.min(this.n - 1, t.exit_bar + pad);
    this.selected = index;
    showTab(this.chartTab);
    var chart = this.chart;
    if (!chart) return;
    chart.dispatchAction({ type: 'dataZoom', dataZoomIndex: 0, startValue: this.time[lo], endValue: this.time[hi] });
    this.redrawChart();
  };

  Backtest.prototype.priceChart = function (container) {
    var self = this;
    if (!this.bars) { container.appendChild(card('Chart', [empty('The bars are unavailable: no candles to draw.')])); return; }
    var panes = this.series.filter(function (s) { return !s.overlay; });
    var overlays = this.series.filter(function (s) { return s.overlay; });
    var div = makeChart(card('Price, trades and series', []), 'tall');
    div.style.height = (560 + 140 * panes.length) + 'px';
    container.appendChild(div.parentNode);
    var chart = this.chart = initChart(div, 'price' + (this.suffix || ''));
    var priceBottom = 60 + 140 * panes.length;
    var grids = [{ left: 70, right: 30, outerBoundsMode: 'none', top: 30, bottom: priceBottom }];
    var xAxes = [this.timeAxis(0, panes.length === 0)], yAxes = [{ scale: true, gridIndex: 0 }];
    panes.forEach(function (s, i) {
      grids.push({ left: 70, right: 30, outerBoundsMode: 'none', height: 110, bottom: 60 + 140 * (panes.length - 1 - i) });
      xAxes.push(self.timeAxis(i + 1, i === panes.length - 1));
      yAxes.push({ scale: true, gridIndex: i + 1, name: s.name, nameLocation: 'middle', nameGap: 45, splitNumber: 2 });
    });
    var axes = xAxes.map(function (_, i) { return i; });
    var series = [{ name: 'Price', type: 'candlestick', xAxisIndex: 0, yAxisIndex: 0, data: [],
      itemStyle: { color: COLORS.up, color0: COLORS.down, borderColor: COLORS.up, borderColor0: COLORS.down } }];
    overlays.forEach(function (s) { series.push({ name: s.name, type: 'line', showSymbol: false, xAxisIndex: 0, yAxisIndex: 0, data: [], lineStyle: { width: 1 } }); });
    panes.forEach(function (s, i) { series.push({ name: s.name, type: 'line', showSymbol: false, xAxisIndex: i + 1, yAxisIndex: i + 1, data: [], lineStyle: { width: 1 } }); });
    var markerBase = series.length;
    series.push({ name: 'Long entry', type: 'scatter', symbol: 'triangle', symbolSize: 14, color: COLORS.up, itemStyle: { borderColor: '#fff', borderWidth: 1 }, xAxisIndex: 0, yAxisIndex: 0, data: [], z: 7 });
    series.push({ name: 'Short entry', type: 'scatter', symbol: 'triangle', symbolRotate: 180, symbolSize: 14, color: COLORS.down, itemStyle: { borderColor: '#fff', borderWidth: 1 }, xAxisIndex: 0, yAxisIndex: 0, data: [], z: 7 });
    series.push({ name: 'Exit', type: 'scatter', symbol: 'diamond', symbolSize: 11, color: '#333', itemStyle: { borderColor: '#fff', borderWidth: 1 }, xAxisIndex: 0, yAxisIndex: 0, data: [], z: 5 });
    series.push({ name: 'Ambiguous bar', type: 'scatter', symbol: 'circle', symbolSize: 18, itemStyle: { color: 'rgba(0,0,0,0)', borderColor: COLORS.ambiguous, borderWidth: 2 }, xAxisIndex: 0, yAxisIndex: 0, data: [], z: 6 });
    series.push({ name: 'Stop', type: 'line', showSymbol: false, connectNulls: false, color: COLORS.stop, lineStyle: { type: 'dashed', width: 1.2 }, xAxisIndex: 0, yAxisIndex: 0, data: [], z: 4 });
    series.push({ name: 'Target', type: 'line', showSymbol: false, connectNulls: false, color: COLORS.target, lineStyle: { type: 'dashed', width: 1.2 }, xAxisIndex: 0, yAxisIndex: 0, data: [], z: 4 });
    chart.setOption({
      animation: false,
      legend: { top: 0, data: series.map(function (s) { return s.name; }) },
      tooltip: { trigger: 'axis', axisPointer: { type: 'cross' }, formatter: tooltipTime },
      axisPointer: { link: [{ xAxisIndex: 'all' }] },
      grid: grids, xAxis: xAxes, yAxis: yAxes,
      dataZoom: [{ type: 'inside', xAxisIndex: axes, filterMode: 'none' },
        { type: 'slider', xAxisIndex: axes, filterMode: 'none', bottom: 10, showDataShadow: false }],
      series: series
    });
    function inWindow(t, a, b) { return t.exit_bar >= a && t.entry_bar < b; }
    this.redrawChart = function () {
      var trades = self.chartTrades();
      var range = visibleRange(chart, self.t0, self.t1);
      var w = windowOf(self.time, range[0], range[1]), b = buckets(chart);
      var candles = candlePoints(self.time, self.bars, w[0], w[1], Math.floor(chart.getWidth() / MIN_CANDLE_PX));
      var updates = [{ data: candles }];
      overlays.forEach(function (s) { var pts = linePoints(self.time, s.values, w[0], w[1], b); updates.push({ data: pts }); });
      panes.forEach(function (s) { updates.push({ data: linePoints(self.time, s.values, w[0], w[1], b) }); });
      updates[0].barWidth = Math.max(1, Math.floor(0.7 * chart.getWidth() / Math.max(1, candles.length)));
      var visible = trades.filter(function (t) { return inWindow(t, w[0], w[1]); });
      var markers = visible.length <= 2000;  // zoomed far out, thousands of markers only hide the candles
      // Points outside the visible time would stretch the price scale: keep the visible ones only.
      var shown = function (p) { return p[0] >= range[0] && p[0] <= range[1]; };
      var points = function (f, bar, price) {
        return markers ? visible.filter(f).map(function (t) { return [self.time[t[bar]], t[price]]; }).filter(shown) : [];
      };
      var all = function () { return true; };
      updates.push({ data: points(function (t) { return t.side === 'long'; }, 'entry_bar', 'entry_price') });
      updates.push({ data: points(function (t) { return t.side === 'short'; }, 'entry_bar', 'entry_price') });
      updates.push({ data: points(all, 'exit_bar', 'exit_price') });
      updates.push({ data: points(function (t) { return t.ambiguous; }, 'exit_bar', 'exit_price') });
      ['stop', 'target'].forEach(function (key) {
        var pts = [];
        if (markers) visible.forEach(function (t) {
          if (t[key] === null || t[key] === undefined) return;
          var a = Math.max(self.time[t.entry_bar], range[0]), b = Math.min(self.time[t.exit_bar], range[1]);
          if (a <= b) pts.push([a, t[key]], [b, t[key]], [b, null]);
        });
        updates.push({ data: pts });
      });
      var sel = self.page.trades[self.selected];
      updates[0].markArea = { silent: true, itemStyle: { color: 'rgba(76,141,255,0.12)' },
        data: sel ? [[{ xAxis: self.time[sel.entry_bar] }, { xAxis: self.time[sel.exit_bar] }]] : [] };
      chart.setOption({ series: updates });
    };
    onZoom(chart, this.redrawChart);
    this.redrawChart();
  };

  Backtest.prototype.calendar = function (container) {
    var monthly = this.page.monthly, yearly = this.page.yearly;
    if (!monthly.length) { container.appendChild(card('Calendar', [empty('No calendar returns: the run has no bars.')])); return; }
    var years = yearly.map(function (y) { return String(y[0]); });
    var heat = card('Monthly returns %', []);
    var hdiv = makeChart(heat, 'small');
    hdiv.style.height = Math.max(180, 80 + 32 * years.length) + 'px';
    var bars = card('Yearly returns %', []);
    var bdiv = makeChart(bars, 'small');
    container.appendChild(el('div', {}, [heat, bars]));
    var values = monthly.map(function (m) { return [m[1] - 1, years.indexOf(String(m[0])), Math.round(m[2] * 100) / 100]; });
    var limit = Math.max.apply(null, values.map(function (v) { return Math.abs(v[2]); }).concat([0.01]));
    var hc = initChart(hdiv, 'monthly' + (this.suffix || ''));
    hc.setOption({
      animation: false,
      tooltip: { formatter: function (p) { return MONTHS[p.value[0]] + ' ' + years[p.value[1]] + ': ' + fmt(p.value[2], 2) + ' %'; } },
      grid: { left: 60, right: 90, top: 10, bottom: 30 },
      xAxis: { type: 'category', data: MONTHS, splitArea: { show: true } },
      yAxis: { type: 'category', data: years, inverse: true, splitArea: { show: true } },
      visualMap: { min: -limit, max: limit, calculable: true, orient: 'vertical', right: 0, top: 'center', itemHeight: 120,
        inRange: { color: ['#c0262d', '#f7f7f7', '#0a9a55'] } },
      series: [{ type: 'heatmap', data: values, label: { show: true, formatter: function (p) { return fmt(p.value[2], 1); } } }]
    });
    var bc = initChart(bdiv, 'yearly' + (this.suffix || ''));
    bc.setOption({
      animation: false, tooltip: { trigger: 'axis' }, grid: { left: 60, right: 30, top: 20, bottom: 30 },
      xAxis: { type: 'category', data: years }, yAxis: { type: 'value', name: '%' },
      series: [{ type: 'bar', barMaxWidth: 60, data: yearly.map(function (y) {
        return { value: Math.round(y[1] * 100) / 100, itemStyle: { color: y[1] >= 0 ? COLORS.up : COLORS.down } }; }) }]
    });
  };

  /* Clicking a header sorts `rows` by its data-key (again: the other way; nulls last) and redraws. */
  function sortable(head, rows, fill) {
    var sortKey = null, ascending = true;
    head.querySelectorAll('th').forEach(function (th) {
      th.addEventListener('click', function () {
        var key = th.getAttribute('data-key');
        ascending = key === sortKey ? !ascending : true;
        sortKey = key;
        rows.sort(function (a, b) {
          var x = a[key], y = b[key];
          var r = x === y ? 0 : x === null ? 1 : y === null ? -1 : x < y ? -1 : 1;
          return ascending ? r : -r;
        });
        head.querySelectorAll('th').forEach(function (h) { h.className = ''; });
        th.className = ascending ? 'sorted-asc' : 'sorted-desc';
        fill();
      });
    });
  }

  /* A table of display values; `sortRows` makes its header sort the rows (at most `limit` shown). */
  function plainTable(header, rows, sortRows, limit) {
    var table = el('table', sortRows ? { 'class': 'sortable' } : {});
    var head = el('tr', {}, header.map(function (h, i) { return el('th', { text: h, 'data-key': i }); }));
    var body = el('tbody');
    table.appendChild(el('thead', {}, [head]));
    table.appendChild(body);
    rows = rows.slice();
    function fill() {
      body.textContent = '';
      rows.slice(0, limit || rows.length).forEach(function (r) {
        body.appendChild(el('tr', {}, r.map(function (c) { return el('td', { text: c === null || c === undefined ? '-' : typeof c === 'number' ? fmtPrice(c) : String(c) }); })));
      });
    }
    if (sortRows) sortable(head, rows, fill);
    fill();
    return table;
  }

  function keyValues(obj) {
    var dl = el('dl', { 'class': 'kv' });
    Object.keys(obj).forEach(function (k) {
      var v = obj[k];
      dl.appendChild(el('dt', { text: k }));
      dl.appendChild(el('dd', { text: v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v) }));
    });
    return dl;
  }

  // ------------------------------------------------------------------ a portfolio
  /* A Backtest whose prices are one symbol's at a time (the picker on the Chart tab), with the
     equal-weight basket as its buy and hold, and the tabs of the symbols. */
  function Portfolio(page) {
    Backtest.call(this, page);
    this.hold = decodeArray(page.hold);
    this.holdName = 'Equal-weight basket';
    this.positions = decodeArray(page.positions);
    this.symbols = page.symbols.map(function (s) {
      return { name: s.name, pnl: decodeArray(s.pnl), bars: { open: decodeArray(s.bars.open),
        high: decodeArray(s.bars.high), low: decodeArray(s.bars.low), close: decodeArray(s.bars.close) } };
    });
    var any = this.symbols.some(function (s) { for (var i = 0; i < s.bars.close.length; i++) if (s.bars.close[i] === s.bars.close[i]) return true; return false; });
    if (!any) this.hold = null;
    this.selectSymbol(0);
  }
  Portfolio.prototype = Object.create(Backtest.prototype);
  Portfolio.prototype.constructor = Portfolio;

  Portfolio.prototype.selectSymbol = function (index) {
    var s = this.symbols[index];
    this.symbol = index;
    this.bars = s && s.bars.close.some(function (v) { return v === v; }) ? s.bars : null;
    if (this.picker) this.picker.value = String(index);
  };

  Portfolio.prototype.symbolIndex = function (name) {
    for (var i = 0; i < this.symbols.length; i++) if (this.symbols[i].name === name) return i;
    return -1;
  };

  Portfolio.prototype.tabs = function (prefix) {
    var self = this, list = Backtest.prototype.tabs.call(this, prefix);
    list.splice(2, 0, { name: prefix + 'Symbols', build: function (c) { self.symbolsTab(c); } });
    return list;
  };

  Portfolio.prototype.tradeColumns = function () { return [TRADE_COLUMNS[0], ['Symbol', 'symbol']].concat(TRADE_COLUMNS.slice(1)); };

  Portfolio.prototype.chartTrades = function () {
    var name = this.symbols[this.symbol] ? this.symbols[this.symbol].name : null;
    return this.page.trades.filter(function (t) { return t.symbol === name; });
  };

  Portfolio.prototype.overview = function (container) {
    Backtest.prototype.overview.call(this, container);
    if (this.n < 2) return;
    var self = this;
    var div = makeChart(card('Symbols held', []), 'small');
    container.appendChild(div.parentNode);
    var chart = initChart(div, 'positions' + (this.suffix || ''));
    chart.setOption({
      animation: false, tooltip: { trigger: 'axis', formatter: tooltipTime },
      grid: { left: 70, right: 30, outerBoundsMode: 'none', top: 34, bottom: 60 },
      xAxis: this.timeAxis(0, true), yAxis: { minInterval: 1, name: 'symbols held' },
      dataZoom: [{ type: 'inside', filterMode: 'none' }, { type: 'slider', filterMode: 'none', bottom: 10, showDataShadow: false }],
      series: [{ name: 'Symbols held', type: 'line', step: 'end', showSymbol: false, data: [], areaStyle: { opacity: 0.2 }, lineStyle: { width: 1 }, color: COLORS.equity }]
    });
    function redraw() {
      var range = visibleRange(chart, self.t0, self.t1), w = windowOf(self.time, range[0], range[1]);
      chart.setOption({ series: [{ data: linePoints(self.time, self.positions, w[0], w[1], buckets(chart)) }] });
    }
    onZoom(chart, redraw);
    redraw();
  };

  Portfolio.prototype.performance = function (container) {
    var page = this.page;
    container.appendChild(card('Performance', [plainTable(page.metrics.header, page.metrics.rows)]));
    var correlation = correlationTable(page.correlation);
    correlation.id = 'correlation' + (this.suffix || '');
    container.appendChild(el('div', { 'class': 'grid2' }, [card('Portfolio', [plainTable(page.portfolio.header, page.portfolio.rows)]),
      card('Correlation of the symbols\' bar returns', [correlation])]));
    container.appendChild(el('div', { 'class': 'grid2' }, [card('Settings', [keyValues(page.settings)]),
      card('Params', [Object.keys(page.params).length ? keyValues(page.params) : empty('none')])]));
  };

  /* The matrix with each cell shaded by its value (red +1, white 0, blue -1). */
  function correlationTable(table) {
    var node = plainTable(table.header, table.rows);
    node.querySelectorAll('tbody tr').forEach(function (tr, r) {
      tr.querySelectorAll('td').forEach(function (td, c) {
        var v = table.rows[r][c];
        if (c === 0 || typeof v !== 'number') return;
        var a = Math.min(1, Math.abs(v)) * 0.55;
        td.style.background = v >= 0 ? 'rgba(224,64,42,' + a + ')' : 'rgba(47,90,255,' + a + ')';
        td.textContent = v.toFixed(2);
      });
    });
    return node;
  }

  Portfolio.prototype.symbolsTab = function (container) {
    var self = this, page = this.page;
    var table = plainTable(page.symbol_table.header, page.symbol_table.rows);
    table.id = 'symbols-table' + (this.suffix || '');
    table.querySelectorAll('tbody tr').forEach(function (tr, i) {
      tr.className = 'clickable';
      tr.title = 'show this symbol on the chart';
      tr.addEventListener('click', function () { self.showSymbol(self.symbolIndex(page.symbol_table.rows[i][0])); });
    });
    container.appendChild(card('Per symbol (click a row to see its chart)', [el('div', { 'class': 'scroll' }, [table])]));
    if (this.n < 2) return;
    var div = makeChart(card('P&L of each symbol (realized plus open)', []), 'tall');
    container.appendChild(div.parentNode);
    var chart = initChart(div, 'symbols' + (this.suffix || ''));
    chart.setOption({
      animation: false, legend: { top: 0, type: 'scroll' }, tooltip: { trigger: 'axis', formatter: tooltipTime },
      grid: { left: 70, right: 30, outerBoundsMode: 'none', top: 40, bottom: 60 },
      xAxis: this.timeAxis(0, true), yAxis: { scale: true, name: 'P&L' },
      dataZoom: [{ type: 'inside', filterMode: 'none' }, { type: 'slider', filterMode: 'none', bottom: 10, showDataShadow: false }],
      series: this.symbols.map(function (s) { return { name: s.name, type: 'line', showSymbol: false, data: [], lineStyle: { width: 1.2 } }; })
    });
    function redraw() {
      var range = visibleRange(chart, self.t0, self.t1), w = windowOf(self.time, range[0], range[1]), b = buckets(chart);
      chart.setOption({ series: self.symbols.map(function (s) { return { data: linePoints(self.time, s.pnl, w[0], w[1], b) }; }) });
    }
    onZoom(chart, redraw);
    redraw();
  };

  Portfolio.prototype.showSymbol = function (index) {
    this.selectSymbol(index);
    this.selected = undefined;
    showTab(this.chartTab);
    if (this.redrawChart) this.redrawChart();
  };

  Portfolio.prototype.showTrade = function (index) {
    this.selectSymbol(this.symbolIndex(this.page.trades[index].symbol));
    Backtest.prototype.showTrade.call(this, index);
  };

  Portfolio.prototype.priceChart = function (container) {
    var self = this;
    var picker = this.picker = el('select', { id: 'symbol-picker' + (this.suffix || ''), 'aria-label': 'symbol' },
      this.symbols.map(function (s, i) { return el('option', { value: String(i), text: s.name }); }));
    picker.value = String(this.symbol);
    picker.addEventListener('change', function () { self.showSymbol(Number(picker.value)); });
    container.appendChild(el('div', { 'class': 'picker' }, [el('label', { text: 'Symbol ' }, [picker]),
      el('span', { text: ' candles and trades of one symbol; the trades table and the Symbols tab choose one too' })]));
    var box = el('div');
    container.appendChild(box);
    Backtest.prototype.priceChart.call(this, box);
  };

  // ------------------------------------------------------------------ a sweep
  function Sweep(page) { this.page = page; }

  Sweep.prototype.tabs = function () {
    var self = this;
    return [{ name: 'Sweep', build: function (c) { self.sweep(c); } },
      { name: 'Validation', build: function (c) { self.validation(c); } },
      { name: 'Manifest', build: function (c) { c.appendChild(card('Manifest', [el('pre', { text: JSON.stringify(self.page.manifest, null, 2) })])); } }];
  };

  Sweep.prototype.sweep = function (container) {
    var page = this.page;
    container.appendChild(card('Summary', [el('pre', { text: page.summary.join('\n') })]));
    container.appendChild(card('Overfitting checks', [page.checks.length ? keyValues(page.checks.reduce(function (o, c) { o[c[0]] = c[1]; return o; }, {})) : empty('No trial produced a result to check.')]));
    var heat = el('div', { 'class': 'grid2' });
    container.appendChild(card('Parameter heatmaps (' + page.objective + ')', [page.heatmaps.length ? heat : empty('No heatmap: the sweep needs at least one param with several values and a ranked trial.')]));
    page.heatmaps.forEach(function (h, i) { heatmapChart(heat, h, 'heatmap' + i); });
    var par = card('Parallel coordinates over all trials', []);
    container.appendChild(par);
    if (page.trials.rows.length < 2) par.appendChild(empty('Only ' + page.trials.rows.length + ' trial: nothing to compare.'));
    else parallelChart(makeChart(par), page);
    container.appendChild(card('Trials (' + page.trials.rows.length + (page.trials.rows.length > 1000 ? ', 1000 shown: sort to see others' : '') + '; click a header to sort)', [el('div', { 'class': 'scroll' }, [plainTable(page.trials.header, page.trials.rows, true, 1000)])]));
  };

  function heatmapChart(container, h, name) {
    var div = makeChart(el('div'), 'small');
    container.appendChild(div.parentNode);
    var data = [], values = [];
    h.values.forEach(function (row, r) { row.forEach(function (v, c) { if (v !== null) { data.push([c, r, v]); values.push(v); } }); });
    var chart = initChart(div, name);
    var lo = Math.min.apply(null, values.concat([0])), hi = Math.max.apply(null, values.concat([0]));
    if (values.length) { lo = Math.min.apply(null, values); hi = Math.max.apply(null, values); }
    chart.setOption({
      animation: false,
      title: { text: h.title, textStyle: { fontSize: 12 } },
      tooltip: { formatter: function (p) { return h.column_name + ' ' + h.column_values[p.value[0]] + (h.row_name ? ', ' + h.row_name + ' ' + h.row_values[p.value[1]] : '') + ': ' + fmtPrice(p.value[2]); } },
      grid: { left: 60, right: 110, top: 40, bottom: 50 },
      xAxis: { type: 'category', name: h.column_name, nameLocation: 'middle', nameGap: 28, data: h.column_values.map(String) },
      yAxis: { type: 'category', name: h.row_name, data: h.row_values.map(String) },
      visualMap: { min: lo, max: hi > lo ? hi : lo + 1, calculable: true, right: 0, top: 'center', itemHeight: 100, precision: 3,
        inRange: { color: ['#2f5aff', '#f7f7f7', '#e0402a'] } },
      series: [{ type: 'heatmap', data: data, markPoint: h.best ? { symbol: 'rect', symbolSize: 14, itemStyle: { color: 'rgba(0,0,0,0)', borderColor: '#000', borderWidth: 2 },
        data: [{ coord: [h.best[1], h.best[0]] }] } : undefined }]
    });
  }

  function parallelChart(div, page) {
    var header = page.trials.header, rows = page.trials.rows;
    var dims = page.param_names.concat([page.objective]);
    var cols = dims.map(function (d) { return header.indexOf(d); });
    var data = rows.map(function (r) { return cols.map(function (c) { return r[c]; }); })
      .filter(function (r) { return r[r.length - 1] !== null; });
    var objs = data.map(function (r) { return r[r.length - 1]; });
    var lo = objs.length ? Math.min.apply(null, objs) : 0, hi = objs.length ? Math.max.apply(null, objs) : 1;
    var chart = initChart(div, 'parallel');
    chart.setOption({
      animation: false,
      parallelAxis: dims.map(function (d, i) { return { dim: i, name: d, scale: true }; }),
      parallel: { left: 60, right: 120, top: 40, bottom: 30 },
      visualMap: { min: lo, max: hi > lo ? hi : lo + 1, dimension: dims.length - 1,
        right: 0, top: 'center', calculable: true, itemHeight: 120, precision: 3, inRange: { color: ['#2f5aff', '#cfd4dc', '#e0402a'] } },
      series: [{ type: 'parallel', lineStyle: { width: 1, opacity: 0.5 }, data: data }]
    });
  }

  Sweep.prototype.validation = function (container) {
    var page = this.page;
    if (!page.folds) { container.appendChild(card('Validation', [empty('The sweep ran without validation (add `validate split 70%` or `validate walk_forward 4 folds` to the optimize statement).')])); return; }
    container.appendChild(card('Folds', [plainTable(page.folds.header, page.folds.rows)]));
    var box = card('Stitched out-of-sample equity', []);
    container.appendChild(box);
    if (!page.oos) { box.appendChild(empty('No test window ran.')); return; }
    var time = decodeTimes(page.oos.time), equity = decodeArray(page.oos.equity), fold = decodeArray(page.oos.fold);
    var chart = initChart(makeChart(box), 'oos');
    var folds = {}, n = time.length;
    var b = Math.max(50, Math.floor(chart.getWidth() * 0.9));
    for (var i = 0; i < n; i++) { (folds[fold[i]] = folds[fold[i]] || [i, i])[1] = i; }
    chart.setOption({
      animation: false, legend: { top: 0 }, tooltip: { trigger: 'axis', formatter: tooltipTime },
      grid: { left: 70, right: 30, outerBoundsMode: 'none', top: 30, bottom: 60 },
      xAxis: { type: 'time' }, yAxis: { scale: true, name: 'equity' },
      dataZoom: [{ type: 'inside' }, { type: 'slider', showDataShadow: false }],
      series: Object.keys(folds).map(function (f) {
        var r = folds[f];
        return { name: 'fold ' + f, type: 'line', showSymbol: false, data: linePoints(time, equity, r[0], r[1] + 1, b) };
      })
    });
  };

  // ------------------------------------------------------------------ tabs
  var tabs = [];
  function showTab(tab) {
    tabs.forEach(function (t) {
      var active = t === tab;
      t.button.className = active ? 'active' : '';
      t.section.className = 'page' + (active ? ' active' : '');
    });
    if (!tab.built) {
      tab.built = true;
      tab.build(tab.section);
    } else {
      tab.section.querySelectorAll('.chart').forEach(function (d) { var c = echarts.getInstanceByDom(d); if (c) c.resize(); });
    }
    api.active = tab.name;
  }
  api.showTab = function (name) { showTab(tabs.filter(function (t) { return t.name === name; })[0]); };

  function addTabs(list) {
    var nav = document.getElementById('tabs'), pages = document.getElementById('pages');
    list.forEach(function (t) {
      t.button = el('button', { text: t.name, type: 'button', 'data-tab': t.name });
      t.section = el('section', { 'class': 'page', id: 'page-' + t.name.replace(/\W+/g, '-').toLowerCase() });
      t.button.addEventListener('click', function () { showTab(t); });
      nav.appendChild(t.button);
      pages.appendChild(t.section);
      tabs.push(t);
    });
  }

  function chartTab(list) { return list.filter(function (t) { return /Chart$/.test(t.name); })[0]; }

  function start() {
    var main = document.getElementById('pages');
    document.getElementById('loading').remove();
    main.appendChild(notesBox(model.notes));  // what is missing, on every tab
    if (model.kind === 'sweep') {
      var sweep = new Sweep(model);
      addTabs(sweep.tabs());
      if (model.best) {
        var best = api.backtest = model.best.kind === 'portfolio' ? new Portfolio(model.best) : new Backtest(model.best);
        best.suffix = '-best';
        var bestTabs = best.tabs('Best: ');
        best.chartTab = chartTab(bestTabs);
        addTabs(bestTabs);
      }
    } else {
      var bt = api.backtest = model.kind === 'portfolio' ? new Portfolio(model) : new Backtest(model);
      var list = bt.tabs('');
      bt.chartTab = chartTab(list);
      addTabs(list);
    }
    showTab(tabs[0]);
    // Ready once the first tab's charts have painted: two frames after they were set up.
    requestAnimationFrame(function () { requestAnimationFrame(function () { api.ready = true; api.readyAt = performance.now(); }); });
  }

  try { start(); } catch (err) { api.errors.push(String(err)); throw err; }
})();
