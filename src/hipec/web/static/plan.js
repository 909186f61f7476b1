// Planning: choose a regimen and technique, post to /api/plan, show the dose plan.
"use strict";
(function () {
  var form = document.getElementById("plan-form");
  if (!form) { return; }
  var regimens = JSON.parse(document.getElementById("regimen-data").textContent);
  var errors = document.getElementById("plan-errors");
  var result = document.getElementById("plan-result");

  function fillTechniques() {
    var chosen = regimens.filter(function (r) { return r.id === form.elements.regimen.value; })[0];
    var select = form.elements.technique;
    select.textContent = "";
    (chosen ? chosen.techniques : []).forEach(function (t) {
      var option = document.createElement("option");
      option.value = t;
      option.textContent = t + (chosen.technique === t ? " (as published)" : "");
      select.appendChild(option);
    });
    if (chosen) { select.value = chosen.technique; }
  }
  function cell(row, text, numeric) {
    var td = document.createElement("td");
    td.textContent = text;
    if (numeric) { td.className = "num"; }
    row.appendChild(td);
  }
  function fmt(value, digits) { return Number(value).toFixed(digits); }
  function fill(id, rows) {
    var body = document.getElementById(id);
    body.textContent = "";
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (c) { cell(tr, c[0], c[1]); });
      body.appendChild(tr);
    });
  }
  function show(plan) {
    document.getElementById("plan-title").textContent = plan.name + " · " + plan.technique;
    document.getElementById("plan-bsa").textContent = fmt(plan.bsa_m2, 2) + " m²";
    document.getElementById("plan-carrier").textContent = fmt(plan.carrier.volume_l, 2) + " L";
    document.getElementById("plan-target").textContent = plan.target_temperature_c + " °C";
    document.getElementById("plan-duration").textContent = plan.duration_min + " min";
    document.getElementById("plan-details").textContent =
      "Carrier " + plan.carrier.solution + " (" + plan.carrier.rule + "); target at the " +
      plan.target_site.replace("_", "-") + "; safety limits inflow " + plan.safety_limits_c.max_inflow +
      " °C, abdomen " + plan.safety_limits_c.max_intra_abdominal + " °C; timer starts " + plan.timer_start_meaning +
      (plan.flow_l_per_min ? "; flow " + plan.flow_l_per_min.min + "-" + plan.flow_l_per_min.max + " L/min" : "") + ".";
    fill("plan-doses", plan.doses.map(function (d) {
      return [[String(d.at_min), true], [d.drug + (d.cap_applied ? " (capped)" : ""), false],
              [fmt(d.mg, 1), true], [fmt(d.mg_per_m2, 2), true], [Math.round(d.fraction * 100) + " %", true]];
    }));
    fill("plan-totals", plan.totals.map(function (t) {
      return [[t.drug, false], [fmt(t.mg, 1), true], [t.dose + " " + t.dose_unit, false],
              [fmt(t.concentration_at_fill_mg_per_l, 2), true]];
    }));
    var systemic = document.getElementById("plan-systemic-block");
    systemic.hidden = plan.systemic.length === 0;
    fill("plan-systemic", plan.systemic.map(function (s) {
      return [[String(s.at_min), true], [s.drug, false], [fmt(s.mg, 1), true], [s.route.toUpperCase(), false], [s.note || "", false]];
    }));
    var warnings = document.getElementById("plan-warnings");
    warnings.textContent = "";
    plan.warnings.forEach(function (w) {
      var li = document.createElement("li");
      li.textContent = "Warning: " + w;
      warnings.appendChild(li);
    });
    document.getElementById("plan-citation").textContent = "Source: " + plan.citation;
    result.hidden = false;
  }

  form.elements.regimen.addEventListener("change", fillTechniques);
  fillTechniques();
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = document.getElementById("plan-submit");
    button.disabled = true;
    hipecApi.postJson(form.getAttribute("data-api"), {
      regimen: form.elements.regimen.value,
      technique: form.elements.technique.value || null,
      height_cm: parseFloat(form.elements.height_cm.value),
      weight_kg: parseFloat(form.elements.weight_kg.value),
      bsa_formula: form.elements.bsa_formula.value
    }).then(function (answer) {
      button.disabled = false;
      if (answer.status === 200) { hipecApi.showErrors(errors, []); show(answer.body); return; }
      result.hidden = true;
      hipecApi.showErrors(errors, hipecApi.errorLines(answer));
    }, function () {
      button.disabled = false;
      hipecApi.showErrors(errors, ["The server cannot be reached."]);
    });
  });
})();
