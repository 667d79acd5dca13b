// Live parts of the dashboard pages, over server-sent events (EventSource sends the page's cookies,
// so the token check covers the push channel). Forms are plain HTML posts: this script only adds
// the live updates and the charts.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  window.tradebot = { ready: false, events: 0 };

  function follow(pre, onStatus, onEnd) {
    const source = new EventSource(pre.dataset.events);
    source.addEventListener("log", (e) => {
      pre.textContent += (pre.textContent ? "\n" : "") + e.data;
      pre.scrollTop = pre.scrollHeight;
      window.tradebot.events++;
    });
    source.addEventListener("status", (e) => onStatus(JSON.parse(e.data)));
    source.addEventListener("end", () => { source.close(); onEnd && onEnd(); });
    source.addEventListener("journal", (e) => {
      pre.textContent += (pre.textContent ? "\n" : "") + e.data;
      window.tradebot.events++;
      onStatus && onStatus(JSON.parse(e.data));
    });
    return source;
  }

  function jobStatus(s) {
    const status = $("status");
    status.textContent = s.status + (s.exit_code === null ? "" : " (exit code " + s.exit_code + ")");
    status.className = "status " + s.status;
    if (s.progress && s.progress.percent !== null && s.progress.percent !== undefined) $("bar").style.width = s.progress.percent + "%";
    if (s.status === "finished") $("bar").style.width = "100%";
    if (s.progress && s.progress.best) $("best").textContent = "best so far: " + s.progress.best;
    if (s.report_url && !$("report").querySelector("a")) {
      const a = document.createElement("a");
      a.href = s.report_url; a.target = "_blank"; a.className = "report"; a.textContent = "report";
      $("report").appendChild(a);
    }
    document.querySelectorAll("form.stop").forEach((f) => { f.hidden = !(s.status === "running" || s.status === "stopping"); });
    window.tradebot.status = s.status;
  }

  function usageChart() {
    const chart = echarts.init($("usage-chart"));
    const series = {};
    chart.setOption({ animation: false, title: { text: "CPU % per job", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis" }, legend: { top: 0, right: 10 }, grid: { left: 50, right: 20, top: 40, bottom: 30 },
      xAxis: { type: "time" }, yAxis: { type: "value", min: 0 }, series: [] });
    const source = new EventSource("/events/system");
    source.addEventListener("usage", (e) => {
      const now = Date.now();
      for (const job of JSON.parse(e.data).jobs) {
        const row = document.querySelector('tr[data-job="' + job.id + '"]');
        if (row) {
          row.cells[1].textContent = job.status;
          row.querySelector(".cpu").textContent = job.cpu_percent === null ? "" : job.cpu_percent.toFixed(0) + "%";
          row.querySelector(".mem").textContent = job.memory_bytes === null ? "" : (job.memory_bytes / 1048576).toFixed(1) + " MB";
        }
        if (job.cpu_percent === null) continue;
        (series[job.title + " " + job.id.slice(-4)] ||= []).push([now, job.cpu_percent]);
      }
      chart.setOption({ series: Object.entries(series).map(([name, data]) => ({ name, type: "line", showSymbol: false, data })) });
      window.tradebot.events++;
    });
    window.tradebot.charts = { usage: chart };
  }

  function sessionNow(chart, points) {
    // A journal entry updates what it carries: position, open P&L, equity (a new chart point).
    return (entry) => {
      for (const key of ["position", "open_pnl", "equity"]) {
        const value = typeof entry[key] === "number" ? entry[key].toFixed(2) : entry[key];
        if (entry[key] !== undefined && $("now-" + key)) $("now-" + key).textContent = value;
      }
      if (typeof entry.equity === "number") {
        // A paper journal's step carries its bar as `row` (epoch ms first), as the equity file's times.
        const when = entry.time || entry.timestamp
          || (Array.isArray(entry.row) ? new Date(entry.row[0]).toISOString().replace(".000Z", "Z") : String(points.length));
        // The journal is read from its start, so the bars equity.csv already drew come again: skip them.
        const last = points.length ? points[points.length - 1][0] : null;
        if (Array.isArray(entry.row) && last !== null && when <= last) return;
        points.push([when, entry.equity]);
        chart.setOption({ xAxis: { data: points.map((p) => p[0]) }, series: [{ data: points.map((p) => p[1]) }] });
      }
    };
  }

  function equityChart() {
    const data = JSON.parse($("session-data").textContent);
    const chart = echarts.init($("equity"));
    chart.setOption({ animation: false, title: { text: "Equity", textStyle: { fontSize: 13 } }, tooltip: { trigger: "axis" },
      grid: { left: 60, right: 20, top: 40, bottom: 30 }, xAxis: { type: "category", data: data.equity.map((p) => p[0]) },
      yAxis: { type: "value", scale: true }, series: [{ type: "line", showSymbol: false, data: data.equity.map((p) => p[1]) }] });
    window.tradebot.charts = { equity: chart };
    return sessionNow(chart, data.equity.slice());
  }

  const page = document.body.dataset.page;
  if (page === "job") follow($("log"), jobStatus, () => { window.tradebot.ended = true; });
  if (page === "system") usageChart();
  if (page === "session") follow($("journal"), equityChart(), null);
  window.tradebot.ready = true;
})();
