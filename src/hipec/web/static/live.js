// The live perfusion console: one WebSocket per page (/ws/runs/<id>), messages of hipec.web.live.
// hello -> redraw everything; sample -> numbers, map, chart (batched); event -> log; end -> final.
"use strict";
(function () {
  var dataNode = document.getElementById("live-data");
  if (!dataNode) { return; }
  var data = JSON.parse(dataNode.textContent);
  var caseNumber = data["case"];

  // -- start form (no run, or the last one ended) ------------------------------------------------
  var startForm = document.getElementById("start-form");
  if (startForm) {
    startForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var f = startForm.elements;
      var faults = [];
      for (var i = 0; i < 3; i++) {
        if (f["fault" + i].value) {
          faults.push({ name: f["fault" + i].value, onset_min: parseFloat(f["onset" + i].value || "0") });
        }
      }
      var body = {
        regimen: f.regimen.value,
        technique: f.technique.value || null,
        speed: f.speed.value === "max" ? "max" : parseFloat(f.speed.value),
        unattended: f.unattended.checked,
        duration_min: f.duration_min.value ? parseFloat(f.duration_min.value) : null,
        faults: faults
      };
      var button = document.getElementById("start-submit");
      var errors = document.getElementById("start-errors");
      button.disabled = true;
      hipecApi.postJson("/api/cases/" + encodeURIComponent(caseNumber) + "/runs", body).then(function (answer) {
        button.disabled = false;
        if (answer.status === 201) { window.location.assign(answer.body.url); return; }
        hipecApi.showErrors(errors, hipecApi.errorLines(answer));
      }, function () {
        button.disabled = false;
        hipecApi.showErrors(errors, ["The server cannot be reached."]);
      });
    });
  }

  var run = data.run;
  if (!run) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var ended = run.status !== "running";
  var paused = false;
  var lastSample = null;

  // -- formatting ------------------------------------------------------------------------------------
  function num(value, digits) { return value === null || value === undefined ? "–" : Number(value).toFixed(digits); }
  function setNum(id, value, digits, unit) {
    var node = $(id);
    if (!node) { return; }
    node.textContent = num(value, digits);
    if (unit && value !== null && value !== undefined) {
      var span = document.createElement("span");
      span.className = "unit";
      span.textContent = unit;
      node.appendChild(span);
    }
  }
  function clock(seconds) {
    if (seconds === null || seconds === undefined) { return "--:--"; }
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }
  var REGION_NAMES = data.region_names;

  // -- the region map (the report's temperature palette, computed by the server) -----------------
  var scale = data.map_scale, colours = data.map_colours;
  function colourOf(value) {
    var f = (value - scale.low) / (scale.high - scale.low);
    var i = Math.round(Math.min(1, Math.max(0, f)) * (colours.length - 1));
    return colours[i];
  }
  var cells = {}, values = {}, dots = {};
  document.querySelectorAll("#region-map rect[data-region]").forEach(function (n) { cells[n.getAttribute("data-region")] = n; });
  document.querySelectorAll("#region-map [data-value]").forEach(function (n) { values[n.getAttribute("data-value")] = n; });
  document.querySelectorAll("#region-map [data-probe]").forEach(function (n) { dots[n.getAttribute("data-probe")] = n; });
  function paintMap(sample) {
    var regions = sample.regions_model_c || [];
    var names = document.querySelectorAll("#region-map .cell-name");
    for (var r = 0; r < 13; r++) {
      var v = regions[r];
      var rect = cells[String(r)], text = values[String(r)];
      if (v === null || v === undefined) { rect.style.fill = ""; text.textContent = "–"; continue; }
      var c = colourOf(v);
      rect.style.fill = c[0];
      text.textContent = Number(v).toFixed(1);
      text.style.fill = c[1];
      names[r].style.fill = c[1];
    }
    (sample.probe_regions || []).forEach(function (region) {
      if (dots[String(region)]) { dots[String(region)].classList.add("on"); }
    });
  }

  // -- numbers -----------------------------------------------------------------------------------------
  function render(sample) {
    lastSample = sample;
    var t = sample.temperatures_c;
    $("phase").textContent = sample.phase;
    paused = sample.paused;
    $("paused-flag").hidden = !sample.paused;
    $("timer-elapsed").textContent = clock(sample.timer_s);
    $("timer-remaining").textContent = clock(sample.remaining_s);
    $("target").textContent = num(sample.target_c, 1) + " °C " + sample.target_site;
    $("clock").textContent = "device " + clock(sample.t);
    setNum("t-inflow", t.inflow, 1, "°C");
    setNum("t-outflow", t.outflow, 1, "°C");
    var cavity = t.cavity.filter(function (v) { return v !== null; });
    setNum("t-abdomen", cavity.length ? Math.max.apply(null, cavity) : null, 1, "°C");
    setNum("t-core", t.core, 1, "°C");
    $("t-core").classList.toggle("hot", t.core !== null && t.core >= 39.5);
    setNum("t-reservoir", t.reservoir, 1, "°C");
    setNum("t-setpoint", sample.inflow_setpoint_c, 1, "°C");
    var probes = $("probes");
    probes.textContent = "";
    t.cavity.forEach(function (v, i) {
      var li = document.createElement("li");
      var region = sample.probe_regions[i];
      li.appendChild(document.createTextNode(region + " " + (REGION_NAMES[region] || "")));
      var b = document.createElement("b");
      b.textContent = v === null ? "no signal" : Number(v).toFixed(1) + " °C";
      li.appendChild(b);
      probes.appendChild(li);
    });
    setNum("f-inflow", sample.flows_l_min.inflow, 2, "L/min");
    setNum("f-outflow", sample.flows_l_min.outflow, 2, "L/min");
    setNum("p-line", sample.pressures_mmhg.line, 0, "mmHg");
    setNum("p-abdominal", sample.pressures_mmhg.abdominal, 1, "mmHg");
    setNum("v-reservoir", sample.volumes_l.reservoir, 2, "L");
    setNum("v-abdomen", sample.volumes_l.abdomen_model, 2, "L");
    setNum("heater", sample.heater_w, 0, "W");
    $("power").textContent = sample.power + " · " + sample.safe_action.replace("_", " ");
    var dose = sample.next_dose;
    $("next-dose").textContent = dose ? dose.drug + " " + num(dose.mg, 1) + " mg at " + num(dose.planned_min, 0) + " min" : "none left";
    renderAlarms(sample.alarms, sample.audible);
    paintMap(sample);
    renderControls();
  }

  var acknowledged = {};
  function renderAlarms(alarms, audible) {
    var list = $("alarms");
    list.textContent = "";
    if (!alarms.length) {
      var none = document.createElement("li");
      none.className = "alarm alarm-none";
      none.textContent = "No active alarm";
      list.appendChild(none);
      return;
    }
    alarms.forEach(function (a) {
      var li = document.createElement("li");
      var key = a.code + "|" + a.source;
      li.className = "alarm alarm-" + a.priority + (acknowledged[key] ? " acked" : " unacked");
      li.setAttribute("data-code", a.code);
      li.appendChild(document.createTextNode(a.priority.toUpperCase() + " · " + a.code.replace(/_/g, " ")));
      var small = document.createElement("small");
      small.textContent = a.source + (acknowledged[key] ? " · acknowledged" : "");
      li.appendChild(small);
      list.appendChild(li);
    });
  }

  // -- chart ---------------------------------------------------------------------------------------------
  var TRACES = [["Inflow", "#ff6b6b"], ["Outflow", "#ffd166"], ["Reservoir", "#9aa5b1"], ["Core", "#7fd6a0"],
    ["Abdomen mean (probes)", "#6cc4ff"], ["Abdomen max (probes)", "#c58cff"]];
  var chartReady = false, pending = [];
  function chartLayout() {
    return {
      paper_bgcolor: "#151c25", plot_bgcolor: "#151c25", font: { color: "#e6ecf2", size: 16 },
      margin: { l: 56, r: 12, t: 10, b: 46 }, showlegend: true,
      legend: { orientation: "h", y: -0.16, font: { size: 15 } },
      xaxis: { title: { text: "device time [min]" }, gridcolor: "#2a3644", zeroline: false },
      yaxis: { title: { text: "°C" }, gridcolor: "#2a3644", range: [20, 46], zeroline: false },
      shapes: run.target_c ? [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: run.target_c, y1: run.target_c,
        line: { color: "#ffffff", width: 1, dash: "dot" } }] : []
    };
  }
  function drawChart(points) {
    if (!window.Plotly) { return; }
    var traces = TRACES.map(function (spec, i) {
      return { x: points.map(function (p) { return p[0]; }), y: points.map(function (p) { return p[i + 1]; }),
        name: spec[0], mode: "lines", line: { color: spec[1], width: i === 0 || i === 5 ? 3 : 2 } };
    });
    window.Plotly.react("chart", traces, chartLayout(), { displayModeBar: false, responsive: true });
    chartReady = true;
  }
  function queuePoint(sample) {
    var t = sample.temperatures_c;
    var cavity = t.cavity.filter(function (v) { return v !== null; });
    var mean = cavity.length ? cavity.reduce(function (a, b) { return a + b; }, 0) / cavity.length : null;
    pending.push([sample.t / 60, t.inflow, t.outflow, t.reservoir, t.core, mean, cavity.length ? Math.max.apply(null, cavity) : null]);
  }
  function flushChart() {
    if (!chartReady || !pending.length) { return; }
    var xs = [], ys = [];
    for (var i = 0; i < TRACES.length; i++) {
      xs.push(pending.map(function (p) { return p[0]; }));
      ys.push(pending.map(function (p) { return p[i + 1]; }));
    }
    pending = [];
    window.Plotly.extendTraces("chart", { x: xs, y: ys }, TRACES.map(function (_, i) { return i; }));
  }
  window.setInterval(flushChart, 500);

  // -- events ---------------------------------------------------------------------------------------------
  function addEvent(ev) {
    var li = document.createElement("li");
    li.className = ev.kind.indexOf("alarm.") === 0 ? "ev-alarm" : ev.kind === "phase.changed" ? "ev-phase" : ev.kind.indexOf("dose.") === 0 ? "ev-dose" : "";
    li.textContent = clock(ev.t) + "  " + ev.message;
    var list = $("events");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 200) { list.removeChild(list.lastChild); }
    var key = ev.code + "|" + (ev.data && ev.data.source);
    if (ev.kind === "alarm.acknowledged") { acknowledged[key] = true; }
    if (ev.kind === "alarm.raised") { delete acknowledged[key]; }
    if (ev.kind === "alarm.cleared") { delete acknowledged[key]; }
    if (ev.kind === "alarm.acknowledged" && lastSample) { renderAlarms(lastSample.alarms, lastSample.audible); }
  }

  // -- controls -------------------------------------------------------------------------------------------
  function renderControls() {
    if (!data.can_run) { return; }
    var off = ended;
    ["btn-next", "btn-pause", "btn-resume", "btn-abort", "btn-ack", "btn-silence"].forEach(function (id) {
      if ($(id)) { $(id).disabled = off; }
    });
    $("btn-pause").hidden = paused;
    $("btn-resume").hidden = !paused;
    var due = !!(lastSample && lastSample.next_dose && lastSample.phase === "perfuse");
    $("btn-dose").disabled = off || !due;
  }
  function say(text, ok) {
    var box = $("action-msg");
    box.textContent = text;
    box.className = "action-msg" + (ok ? " ok" : "");
    box.hidden = !text;
  }
  function act(action, body) {
    var url = "/api/cases/" + encodeURIComponent(caseNumber) + "/live/" + action + "?run=" + run.run_id;
    return hipecApi.postJson(url, body || {}).then(function (answer) {
      if (answer.status === 200) {
        var n = answer.body.events.length;
        say(action.replace("-", " ") + ": done" + (n ? " (" + answer.body.events.map(function (e) { return e.message; }).join("; ") + ")" : ""), true);
      } else {
        say(hipecApi.errorLines(answer).join(" "), false);
      }
      return answer;
    }, function () { say("The server cannot be reached.", false); });
  }
  if (data.can_run) {
    $("btn-next").addEventListener("click", function () { act("next-phase"); });
    $("btn-pause").addEventListener("click", function () { act("pause"); });
    $("btn-resume").addEventListener("click", function () { act("resume"); });
    $("btn-ack").addEventListener("click", function () { act("acknowledge"); });
    $("btn-silence").addEventListener("click", function () { act("silence"); });
    $("btn-dose").addEventListener("click", function () {
      act("confirm-dose", lastSample && lastSample.next_dose ? { drug: lastSample.next_dose.drug } : {});
    });
    var dialog = $("abort-dialog");
    $("btn-abort").addEventListener("click", function () { dialog.showModal(); });
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "abort") { act("abort", { reason: $("abort-reason").value }); }
    });
  }

  // -- the end ----------------------------------------------------------------------------------------------
  function showEnd(end) {
    ended = true;
    $("end-text").textContent = "Perfusion " + end.status + (end.reason ? ": " + end.reason : "") + ".";
    $("end-box").hidden = false;
    var conn = $("conn");
    conn.textContent = "ended";
    conn.className = "conn conn-ended";
    renderControls();
  }

  // -- the stream -----------------------------------------------------------------------------------------
  var lastSeq = 0, retry = 1000;
  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + run.websocket);
    var conn = $("conn");
    socket.onopen = function () { conn.textContent = "live"; conn.className = "conn conn-ok"; retry = 1000; };
    socket.onmessage = function (message) {
      var m = JSON.parse(message.data);
      if (m.type === "hello") {
        lastSeq = m.last_seq;
        $("events").textContent = "";
        acknowledged = {};
        m.events.forEach(addEvent);
        pending = [];
        drawChart(m.chart);
        if (m.sample) { render(m.sample); }
        if (m.end) { showEnd(m.end); }
        return;
      }
      if (m.seq !== undefined) { lastSeq = m.seq; }
      if (m.type === "sample") { render(m); queuePoint(m); }
      else if (m.type === "event") { addEvent(m); }
      else if (m.type === "end") { flushChart(); showEnd(m); }
    };
    socket.onclose = function () {
      if (ended) { return; }
      conn.textContent = "reconnecting";
      conn.className = "conn conn-wait";
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 8000);
    };
  }
  renderControls();
  connect();
})();
