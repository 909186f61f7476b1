// PCI editor: click (or Enter/Space/0-3/arrows on) a region of the drawing to set its lesion
// size; the radio table mirrors it; the total updates live; save posts to the JSON API.
"use strict";
(function () {
  var form = document.getElementById("pci-form");
  if (!form) { return; }
  var total = document.getElementById("pci-total");
  var errors = document.getElementById("pci-errors");
  var regions = Array.prototype.slice.call(document.querySelectorAll(".pci-map-editable .pci-region"));
  var names = {};
  document.querySelectorAll(".ls-table th[scope=row]").forEach(function (th) {
    names[th.id.slice(2)] = th.textContent.replace(/^\d+\s*/, "");
  });

  function score(index) {
    var checked = form.querySelector('input[name="r' + index + '"]:checked');
    return checked ? parseInt(checked.value, 10) : 0;
  }
  function scores() {
    var list = [];
    for (var i = 0; i < 13; i++) { list.push(score(i)); }
    return list;
  }
  function paint(index, value) {
    regions.forEach(function (g) {
      if (parseInt(g.getAttribute("data-region"), 10) !== index) { return; }
      g.classList.remove("ls-0", "ls-1", "ls-2", "ls-3");
      g.classList.add("ls-" + value);
      g.setAttribute("data-score", String(value));
      g.querySelector(".region-score").textContent = String(value);
      g.setAttribute("aria-label", "Region " + index + " " + (names[index] || "") + ": lesion size " + value + ". Press to change.");
    });
  }
  function refreshTotal() {
    var sum = scores().reduce(function (a, b) { return a + b; }, 0);
    total.textContent = String(sum);
    document.querySelectorAll(".pci-map title").forEach(function (t) { t.textContent = "PCI map: total " + sum + " of 39"; });
  }
  function set(index, value) {
    var radio = form.querySelector('input[name="r' + index + '"][value="' + value + '"]');
    if (radio) { radio.checked = true; }
    paint(index, value);
    refreshTotal();
  }

  regions.forEach(function (g) {
    var index = parseInt(g.getAttribute("data-region"), 10);
    g.addEventListener("click", function () { set(index, (score(index) + 1) % 4); });
    g.addEventListener("keydown", function (event) {
      var key = event.key;
      if (key === "Enter" || key === " ") { set(index, (score(index) + 1) % 4); }
      else if (/^[0-3]$/.test(key)) { set(index, parseInt(key, 10)); }
      else if (key === "ArrowUp" || key === "+") { set(index, Math.min(3, score(index) + 1)); }
      else if (key === "ArrowDown" || key === "-") { set(index, Math.max(0, score(index) - 1)); }
      else { return; }
      event.preventDefault();
    });
  });
  form.addEventListener("change", function (event) {
    var match = /^r(\d+)$/.exec(event.target.name || "");
    if (match) { paint(parseInt(match[1], 10), parseInt(event.target.value, 10)); refreshTotal(); }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = document.getElementById("pci-save");
    button.disabled = true;
    var notes = form.elements.notes.value.trim();
    hipecApi.postJson(form.getAttribute("data-api"), {
      assessed_on: form.elements.assessed_on.value,
      source: form.elements.source.value,
      lesion_size_scores: scores(),
      notes: notes || null
    }).then(function (result) {
      if (result.status === 201) { window.location.assign(result.body.url); return; }
      hipecApi.showErrors(errors, hipecApi.errorLines(result));
      button.disabled = false;
    }, function () {
      hipecApi.showErrors(errors, ["The server cannot be reached; nothing was saved."]);
      button.disabled = false;
    });
  });
})();
