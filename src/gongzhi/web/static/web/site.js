/* The site page: charts (ECharts, one per parameter, zoom linked), the data table (htmx
   fragment) and the export links, all from the same selection of parameters, resolution
   and period. Data: /web-api/sites/<code>/series.json (server-side aggregation). */
(function () {
  "use strict";
  var box = document.getElementById("charts");
  if (!box) return;
  var code = box.dataset.site;
  var T = JSON.parse(document.getElementById("site-text").textContent);
  var form = document.getElementById("chart-controls");
  var statusEl = document.getElementById("chart-status");
  var charts = [];
  var days = 7;
  var latestRequest = 0;  // only the answer to the newest request is drawn (requests may overtake)

  function query() {
    var q = new URLSearchParams();
    q.set("resolution", form.querySelector("input[name=resolution]:checked").value);
    var start = form.elements.start.value, end = form.elements.end.value;
    if (start) q.set("start", start);
    if (end) q.set("end", end);
    if (!start && days) q.set("days", String(days));
    var keys = Array.prototype.map.call(form.querySelectorAll("input[name=parameters]:checked"), function (i) { return i.value; });
    q.set("parameters", keys.join(","));
    return q.toString();
  }

  function expandTimes(data) {  // t0 + dt (seconds) → epoch ms; times_of: same as an earlier parameter
    var byKey = {};
    data.parameters.forEach(function (p) {
      if (p.times_of) { p.times = byKey[p.times_of]; return; }
      var t = new Array(p.values.length);
      if (t.length) { t[0] = p.t0; for (var i = 1; i < t.length; i++) t[i] = t[i - 1] + p.dt[i - 1] * 1000; }
      p.times = byKey[p.key] = t;
    });
    return data;
  }

  function chartOption(p, resolution) {
    var data = new Array(p.times.length);
    for (var i = 0; i < p.times.length; i++) data[i] = [p.times[i], p.values[i]];
    var ex = p.exceed.map(function (i) { return [p.times[i], p.values[i]]; });
    var lines = p.limit ? p.limit.lines.map(function (v) {
      var sign = p.limit.kind === "le" ? " ≤ " : (p.limit.kind === "ge" ? " ≥ " : " ");
      return { yAxis: v, label: { formatter: T.target + " " + p.limit["class"] + sign + v, position: "insideEndTop" } };
    }) : [];
    var unit = p.unit && p.unit !== "1" ? " (" + p.unit + ")" : "";
    return {
      animation: false,
      title: { text: p.name + unit, left: 8, top: 2, textStyle: { fontSize: 13 } },
      grid: { left: 56, right: 24, top: 30, bottom: 52 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "time" },
      yAxis: { type: "value", scale: true },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 16, bottom: 6 }],
      series: [
        { name: p.name, type: "line", data: data, showSymbol: resolution === "day" || resolution === "month",
          symbolSize: 4, sampling: "lttb", lineStyle: { width: 1.2 }, connectNulls: false,
          markLine: lines.length ? { symbol: "none", silent: true, lineStyle: { color: "#d64541", type: "dashed" }, data: lines } : undefined },
        { name: T.exceed, type: "scatter", data: ex, symbolSize: 5, itemStyle: { color: "#d64541" }, z: 3 }
      ]
    };
  }

  function draw(data) {
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
    box.innerHTML = "";
    var total = 0, pending = false;
    data.parameters.forEach(function (p) {
      var div = document.createElement("div");
      div.className = "chart";
      div.dataset.parameter = p.key;
      div.dataset.points = String(p.times.length);
      box.appendChild(div);
      var c = echarts.init(div);
      c.setOption(chartOption(p, data.resolution));
      c.group = "site-" + code;
      charts.push(c);
      total += p.times.length;
      pending = pending || p.pending;
    });
    echarts.connect("site-" + code);
    statusEl.textContent = total ? total + " " + T.points + (pending ? " · " + T.pending : "") : T.none;
    box.dataset.drawn = String(data.parameters.length);
  }

  function refresh() {
    var q = query();
    statusEl.textContent = T.loading;
    document.getElementById("export-csv").href = "/sites/" + code + "/export.csv?" + q;
    document.getElementById("export-xlsx").href = "/sites/" + code + "/export.xlsx?" + q;
    // the table: an htmx fragment; hx-sync="this:replace" on #data-table aborts a request still in flight
    var p = htmx.ajax("GET", "/sites/" + code + "/table/?" + q, { source: "#data-table", target: "#data-table", swap: "innerHTML" });
    if (p && p.catch) p.catch(function () {});  // a replaced (aborted) request is not an error
    var mine = ++latestRequest;
    fetch("/web-api/sites/" + code + "/series.json?" + q, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) return r.json().then(function (e) { throw new Error(e.error || r.status); });
      return r.json();
    }).then(function (d) {
      if (mine === latestRequest) draw(expandTimes(d));
    }).catch(function (e) { if (mine === latestRequest) statusEl.textContent = T.error + ": " + e.message; });
  }

  form.addEventListener("change", function (ev) {
    if (ev.target.name === "start" || ev.target.name === "end") days = null;
    refresh();
  });
  Array.prototype.forEach.call(form.querySelectorAll("button[data-days]"), function (b) {
    b.addEventListener("click", function () {
      days = Number(b.dataset.days);
      form.elements.start.value = "";
      form.elements.end.value = "";
      var res = form.querySelector("input[name=resolution]:checked");
      if (days <= 1 && res.value !== "raw" && res.value !== "hour") form.querySelector("input[value=hour]").checked = true;
      if (days > 31 && res.value === "raw") form.querySelector("input[value=hour]").checked = true;
      refresh();
    });
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  refresh();
})();
