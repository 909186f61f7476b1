// Outcomes charts (Plotly, served from the installed plotly package): rates with their 95 %
// intervals beside the published benchmark ranges, and the worst Clavien-Dindo grade per course.
"use strict";
(function () {
  var source = document.getElementById("outcome-data");
  if (!source || typeof Plotly === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var font = { family: "system-ui, sans-serif", size: 20, color: "#111418" };
  var measures = [
    ["major_complication_rate", "Major<br>CD ≥ IIIa"],
    ["any_complication_rate", "Any<br>complication"],
    ["mortality_30d", "Died<br>≤ 30 d"],
    ["mortality_90d", "Died<br>≤ 90 d"],
    ["readmission_rate", "Re-<br>admission"]
  ];
  var labels = measures.map(function (m) { return m[1]; });
  var values = measures.map(function (m) { return data[m[0]].percent; });
  var upper = measures.map(function (m) {
    var r = data[m[0]];
    return r.ci95_percent ? r.ci95_percent[1] - r.percent : 0;
  });
  var lower = measures.map(function (m) {
    var r = data[m[0]];
    return r.ci95_percent ? r.percent - r.ci95_percent[0] : 0;
  });
  var bench = { x: [], base: [], y: [], text: [] };
  var points = { x: [], y: [], text: [] };
  measures.forEach(function (m) {
    data.benchmarks.filter(function (b) { return b.measure === m[0]; }).forEach(function (b) {
      if (b.low_percent !== null && b.high_percent !== null) {
        bench.x.push(m[1]); bench.base.push(b.low_percent); bench.y.push(b.high_percent - b.low_percent); bench.text.push(b.text);
      } else if (b.high_percent !== null && b.value_percent === null) {
        bench.x.push(m[1]); bench.base.push(0); bench.y.push(b.high_percent); bench.text.push(b.text);
      }
      if (b.value_percent !== null) { points.x.push(m[1]); points.y.push(b.value_percent); points.text.push(b.text); }
    });
  });
  var layout = {
    font: font, barmode: "group", margin: { l: 70, r: 20, t: 10, b: 110 }, height: 460,
    xaxis: { tickangle: 0 },
    yaxis: { title: { text: "%" }, rangemode: "tozero", gridcolor: "#d6dbe1" },
    legend: { orientation: "h", y: -0.25 }, paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff"
  };
  Plotly.newPlot("rates-chart", [
    { type: "bar", name: "this programme", x: labels, y: values, marker: { color: "#0b6e69" },
      error_y: { type: "data", array: upper, arrayminus: lower, color: "#111418", thickness: 2.5, width: 8 } },
    { type: "bar", name: "published range", x: bench.x, y: bench.y, base: bench.base, text: bench.text,
      textposition: "none", hoverinfo: "x+text", marker: { color: "rgba(179, 143, 0, 0.35)", line: { color: "#8a6d00", width: 2 } } },
    { type: "scatter", mode: "markers", name: "published value", x: points.x, y: points.y, text: points.text,
      hoverinfo: "x+text", marker: { symbol: "diamond", size: 18, color: "#a4161a", line: { color: "#fff", width: 2 } } }
  ], layout, { displayModeBar: false, responsive: true });

  var grades = ["none", "I", "II", "IIIa", "IIIb", "IVa", "IVb", "V"];
  var counts = grades.map(function (g) { return data.worst_grade_counts[g] || 0; });
  var colors = grades.map(function (g) { return ["none", "I", "II"].indexOf(g) >= 0 ? "#7b8594" : "#a4161a"; });
  var los = data.length_of_stay_days;
  Plotly.newPlot("los-chart", [
    { type: "bar", x: grades, y: counts, marker: { color: colors }, name: "procedures" }
  ], {
    font: font, margin: { l: 70, r: 20, t: 40, b: 70 }, height: 440, showlegend: false,
    title: { text: "Median stay " + (los.median_days === null ? "–" : los.median_days + " d") + " · worst grade per procedure", font: { size: 20 } },
    xaxis: { title: { text: "worst Clavien-Dindo grade" } }, yaxis: { title: { text: "procedures" }, gridcolor: "#d6dbe1" },
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff"
  }, { displayModeBar: false, responsive: true });
})();
