/* Assessment pages: the class distribution chart (water) and the AQI calendar (air). */
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  var classes = data("class-data");
  var box = document.getElementById("class-chart");
  if (classes && box && window.echarts) {
    var colours = ["#44cef6", "#3b8ee0", "#2fb344", "#f4d03f", "#f39c12", "#d64541"];
    echarts.init(box).setOption({
      animation: false,
      grid: {left: 30, right: 10, top: 10, bottom: 22},
      xAxis: {type: "category", data: classes.labels},
      yAxis: {type: "value", minInterval: 1},
      series: [{type: "bar", data: classes.values.map(function (v, i) { return {value: v, itemStyle: {color: colours[i]}}; })}]
    });
  }
  var ranks = data("rank-data");
  var rankBox = document.getElementById("rank-chart");
  if (ranks && rankBox && window.echarts && ranks.bars.length) {
    var bars = ranks.bars.slice().reverse();  // best (rank 1) at the top
    echarts.init(rankBox).setOption({
      animation: false,
      title: {text: ranks.title, textStyle: {fontSize: 13}},
      grid: {left: 130, right: 60, top: 30, bottom: 20},
      xAxis: {type: "value"},
      yAxis: {type: "category", data: bars.map(function (b) { return b.rank + ". " + b.name; })},
      series: [{type: "bar", data: bars.map(function (b) { return b.value; }), itemStyle: {color: "#0b6e4f"},
                label: {show: true, position: "right"}}]
    });
  }
  var cal = data("calendar-data");
  var calBox = document.getElementById("aqi-calendar");
  var select = document.getElementById("cal-entity");
  if (!cal || !calBox || !window.echarts) return;
  var chart = echarts.init(calBox);
  cal.entities.forEach(function (e, i) {
    var o = document.createElement("option");
    o.value = String(i);
    o.textContent = e.name + " (" + e.code + ")";
    select.appendChild(o);
  });
  var last = new Date(cal.end + "T00:00:00Z");
  last.setUTCDate(last.getUTCDate() - 1);
  var range = [cal.start, last.toISOString().slice(0, 10)];
  var pieces = cal.categories.map(function (c) {
    return {value: c.level, label: c.name, color: c.colour};
  });
  function draw(i) {
    var e = cal.entities[i];
    if (!e) return;
    chart.setOption({
      animation: false,
      tooltip: {formatter: function (p) {
        var d = p.data;
        return d[0] + "<br>" + cal.text.aqi + " " + d[3] + (d[4] ? "<br>" + cal.text.primary + " " + d[4] : "");
      }},
      visualMap: {type: "piecewise", dimension: 1, orient: "horizontal", left: "center", bottom: 0, pieces: pieces},
      calendar: {range: range, top: 40, left: 50, right: cal.kind === "year" ? 20 : null,
                 cellSize: cal.kind === "month" ? [46, 26] : (cal.kind === "quarter" ? [30, 22] : ["auto", 18]),
                 yearLabel: {show: cal.kind === "year"}, dayLabel: {firstDay: 1}},
      series: [{type: "heatmap", coordinateSystem: "calendar",
                label: {show: cal.kind === "month", formatter: function (p) { return p.data[3]; }},
                data: e.calendar.map(function (d) { return [d[0], d[2], d[2], d[1], d[3]]; })}]
    }, true);
  }
  select.addEventListener("change", function () { draw(Number(select.value)); });
  draw(0);
})();
