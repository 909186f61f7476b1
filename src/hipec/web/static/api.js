// Shared by the pages' scripts: JSON calls to /api with the session's CSRF token.
"use strict";
window.hipecApi = (function () {
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // POST JSON; resolves to {status, body}. Never throws on HTTP errors.
  function postJson(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken(), "Accept": "application/json" },
      body: JSON.stringify(data)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }
  // One line per error of a 401/403/422 answer.
  function errorLines(result) {
    if (result.status === 401) { return ["Your session has ended: log in again."]; }
    var detail = result.body && result.body.detail;
    if (typeof detail === "string") { return [detail]; }
    if (Array.isArray(detail)) {
      return detail.map(function (item) {
        var loc = (item.loc || []).filter(function (part) { return part !== "body"; }).join(".");
        return (loc ? loc + ": " : "") + item.msg;
      });
    }
    return ["The server answered " + result.status + "."];
  }
  function showErrors(box, lines) {
    box.textContent = "";
    lines.forEach(function (line) {
      var p = document.createElement("p");
      p.textContent = line;
      box.appendChild(p);
    });
    box.hidden = lines.length === 0;
  }
  return { postJson: postJson, errorLines: errorLines, showErrors: showErrors };
})();
