/* Alarm detail page: the propagation path on a Leaflet map (with the region's boundaries and
   waters from /web-api/map/layers.json) and the values around the alarm on an ECharts chart. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("alarm-map-data").textContent);
  var el = document.getElementById("alarm-map");
  if (el && window.L) {
    var o = data.origin.lonlat;
    var map = L.map(el).setView([o[1], o[0]], 11);
    fetch("/web-api/map/layers.json", { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (layers) {
      if (!layers) return;
      if (layers.jurisdictions) L.geoJSON(layers.jurisdictions, { style: { color: "#7b8794", weight: 1, fill: false } }).addTo(map);
      if (layers.waters) L.geoJSON(layers.waters, { style: { color: "#3b82c4", weight: 2, fillOpacity: 0.15 } }).addTo(map);
    }).catch(function () {});
    var bounds = [[o[1], o[0]]];
    L.circleMarker([o[1], o[0]], { radius: 9, color: "#b00", fillColor: "#f33", fillOpacity: 0.9 })
      .addTo(map).bindTooltip(data.origin.name, { permanent: true, direction: "right" });
    data.warnings.forEach(function (w) {
      if (w.path && w.path.length > 1) {
        var ll = w.path.map(function (p) { return [p[1], p[0]]; });
        L.polyline(ll, { color: "#d9480f", weight: 4, opacity: 0.8, dashArray: "8 6" }).addTo(map);
        ll.forEach(function (p) { bounds.push(p); });
      }
    });
    data.downstream.forEach(function (d) {
      var hours = (d.travel_time_s / 3600).toFixed(1);
      L.circleMarker([d.lat, d.lon], { radius: 6, color: d.drinking_water_source ? "#7b2cbf" : "#d9480f", fillOpacity: 0.8 })
        .addTo(map).bindTooltip(d.name + " · " + hours + " h");
      bounds.push([d.lat, d.lon]);
    });
    if (bounds.length > 1) map.fitBounds(bounds, { padding: [30, 30], animate: false });
    // source tracing: when the htmx fragment is in the page, mark the ranked candidates (1 = strongest)
    var sourceLayer = L.layerGroup().addTo(map), shown = null;
    var showSources = function () {
      var el2 = document.getElementById("sources-map-data");
      if (!el2 || el2 === shown) return;
      shown = el2;
      sourceLayer.clearLayers();
      var pts = JSON.parse(el2.textContent), b2 = bounds.slice();
      pts.forEach(function (c) {
        var top = c.rank === 1 && !c.waypoint;
        L.circleMarker([c.lat, c.lon], { radius: top ? 10 : 7, color: top ? "#7b2cbf" : "#2b8a3e", weight: top ? 4 : 2,
          fillColor: "#fff", fillOpacity: 0.9 }).addTo(sourceLayer)
          .bindTooltip("#" + c.rank + " " + c.name + (c.score !== null ? " · " + c.score.toFixed(2) : ""), { permanent: top, direction: "top", offset: [0, -8] });
        b2.push([c.lat, c.lon]);
      });
      map.stop();  // an animated view change still running would land after this one
      if (b2.length > 1) map.fitBounds(b2, { padding: [30, 30], animate: false });
    };
    window.gongzhiShowSources = showSources;
    document.body.addEventListener("htmx:afterSettle", showSources);
    showSources();
  }
  var chartEl = document.getElementById("alarm-chart");
  if (chartEl && window.echarts) {
    fetch(chartEl.dataset.url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
      var chart = echarts.init(chartEl);
      var lines = [];
      if (s.limit !== null && s.limit !== undefined) lines.push({ yAxis: s.limit, lineStyle: { color: "#b00" } });
      chart.setOption({
        tooltip: { trigger: "axis" },
        xAxis: { type: "time" },
        yAxis: { type: "value", name: s.unit, scale: true },
        series: [{
          type: "line", showSymbol: false,
          data: s.points.map(function (p) { return [p[0], p[3] ? null : p[1]]; }),
          markLine: { symbol: "none", data: lines.concat([{ xAxis: s.started, lineStyle: { color: "#d9480f" }, label: { show: false } }]) }
        }, {
          type: "scatter", symbolSize: 6, itemStyle: { color: "#999" },
          data: s.points.filter(function (p) { return p[3]; }).map(function (p) { return [p[0], p[1]]; })
        }]
      });
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
})();
