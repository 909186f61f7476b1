// Planning: simulate the plan on the digital twin (/api/plan/simulate) and plot it with Plotly.
"use strict";
(function () {
  var form = document.getElementById("plan-form");
  var section = document.getElementById("sim-section");
  if (!form || !section) { return; }
  var result = document.getElementById("plan-result");
  // the section appears with the dose plan
  new MutationObserver(function () { section.hidden = result.hidden; }).observe(result, { attributes: true });
  var button = document.getElementById("sim-run");
  var status = document.getElementById("sim-status");
  var errors = document.getElementById("sim-errors");
  var layout = function (yTitle, log) {
    return { margin: { l: 64, r: 16, t: 16, b: 50 }, font: { size: 15 }, legend: { orientation: "h", y: -0.2 },
      xaxis: { title: { text: "time [min]" } }, yaxis: { title: { text: yTitle }, type: log ? "log" : "linear" } };
  };
  function plot(sim) {
    var t = sim.time_min, temps = sim.temperatures_c;
    var curves = [["inflow", "Inflow", "#d62828"], ["outflow", "Outflow", "#f77f00"], ["abdomen_max", "Abdomen max", "#9d4edd"],
      ["abdomen_mean", "Abdomen mean", "#3a86ff"], ["abdomen_min", "Abdomen min", "#8ecae6"], ["core", "Core", "#2a9d8f"]];
    var tempsNode = document.getElementById("sim-temps");
    tempsNode.hidden = false;
    window.Plotly.react(tempsNode, curves.map(function (c) {
      return { x: t, y: temps[c[0]], name: c[1], mode: "lines", line: { color: c[2], width: 2.5 } };
    }), Object.assign(layout("temperature [°C]", false), {
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: sim.plan.target_temperature_c, y1: sim.plan.target_temperature_c,
        line: { dash: "dot", color: "#444" } }] }), { displayModeBar: false, responsive: true });
    var drugs = [];
    Object.keys(sim.perfusate_mg_l).forEach(function (d) {
      drugs.push({ x: t, y: sim.perfusate_mg_l[d], name: d + " perfusate", mode: "lines", line: { width: 2.5 } });
      drugs.push({ x: t, y: sim.plasma_mg_l[d], name: d + " plasma", mode: "lines", line: { width: 2.5, dash: "dash" } });
    });
    var drugsNode = document.getElementById("sim-drugs");
    drugsNode.hidden = drugs.length === 0;
    if (drugs.length) { window.Plotly.react(drugsNode, drugs, layout("concentration [mg/L]", false), { displayModeBar: false, responsive: true }); }
    var th = sim.report.thermal;
    document.getElementById("sim-summary").textContent = "Time to target " + th.time_to_target_min + " min; time in 41-43 °C " +
      Math.round(th.time_in_range_fraction * 100) + " %; hottest region " + th.max_region_c + " °C; core max " + th.core_max_c + " °C. Source: " + sim.source + ".";
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    status.textContent = "Simulating… (a few seconds)";
    hipecApi.postJson("/api/plan/simulate", {
      regimen: form.elements.regimen.value,
      technique: form.elements.technique.value || null,
      height_cm: parseFloat(form.elements.height_cm.value),
      weight_kg: parseFloat(form.elements.weight_kg.value),
      bsa_formula: form.elements.bsa_formula.value
    }).then(function (answer) {
      button.disabled = false;
      status.textContent = "";
      if (answer.status === 200) { hipecApi.showErrors(errors, []); plot(answer.body); return; }
      hipecApi.showErrors(errors, hipecApi.errorLines(answer));
    }, function () {
      button.disabled = false;
      status.textContent = "";
      hipecApi.showErrors(errors, ["The server cannot be reached."]);
    });
  });
})();
