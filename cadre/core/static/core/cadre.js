// htmx requests carry the CSRF token; the busy list is announced to assistive technologies.
document.addEventListener("htmx:configRequest", function (event) {
  var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  if (match) { event.detail.headers["X-CSRFToken"] = decodeURIComponent(match[1]); }
});
document.addEventListener("htmx:beforeRequest", function (event) {
  var target = event.detail.target;
  if (target) { target.setAttribute("aria-busy", "true"); }
});
document.addEventListener("htmx:afterSettle", function (event) {
  var target = event.detail.target;
  if (target) { target.removeAttribute("aria-busy"); }
});

// Autosaved answers (observatory): a field group takes the state its status reports.
function cadreSyncAnswerStates() {
  document.querySelectorAll("[data-question]").forEach(function (group) {
    var status = group.querySelector(".cadre-answer-status");
    if (!status) { return; }
    var state = status.getAttribute("data-state");
    var prefix = group.classList.contains("fr-fieldset") ? "fr-fieldset--" : "fr-input-group--";
    group.classList.toggle(prefix + "error", state === "error");
    group.classList.toggle(prefix + "valid", state === "valid");
    var input = document.getElementById("input-" + group.getAttribute("data-question"));
    if (input) {
      if (state === "error") { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    }
  });
}
document.addEventListener("htmx:afterSettle", cadreSyncAnswerStates);

// Typed but not yet sent when the tab closes or is hidden: send it with a beacon, so no work is lost.
var cadrePending = new Set();
document.addEventListener("input", function (event) {
  var group = event.target.closest && event.target.closest("[data-question]");
  if (group) { cadrePending.add(group); }
});
document.addEventListener("htmx:beforeRequest", function (event) {
  var group = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("[data-question]");
  if (group) { cadrePending.delete(group); }
});
function cadreFlushAnswers() {
  var token = document.querySelector("input[name=csrfmiddlewaretoken]");
  cadrePending.forEach(function (group) {
    var code = group.getAttribute("data-question");
    var data = new FormData();
    if (token) { data.append("csrfmiddlewaretoken", token.value); }
    group.querySelectorAll("[name]").forEach(function (field) {
      if ((field.type === "radio" || field.type === "checkbox") && !field.checked) { return; }
      if (field.name === "q-" + code || field.name === "version-" + code || field.name === "comment-" + code) {
        data.append(field.name, field.value);
      }
    });
    navigator.sendBeacon(group.getAttribute("hx-post"), data);
  });
  cadrePending.clear();
}
window.addEventListener("pagehide", cadreFlushAnswers);
document.addEventListener("visibilitychange", function () {
  if (document.visibilityState === "hidden") { cadreFlushAnswers(); }
});

// Live totals of a form of amounts: an <output data-sum="a" data-minus="b"> shows the sum of the inputs whose
// data-sums names "a", less those naming "b", as they are typed (French writing: spaces, decimal comma).
function cadreAmount(text) {
  var value = parseFloat(String(text).replace(/[\s\u00a0\u202f]/g, "").replace(",", "."));
  return isNaN(value) ? 0 : value;
}
function cadreTotals() {
  var outputs = document.querySelectorAll("output[data-sum]");
  if (!outputs.length) { return; }
  var sums = {};
  document.querySelectorAll("input[data-sums]").forEach(function (input) {
    input.getAttribute("data-sums").split(" ").forEach(function (name) {
      sums[name] = (sums[name] || 0) + cadreAmount(input.value);
    });
  });
  var euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" });
  outputs.forEach(function (output) {
    var total = sums[output.getAttribute("data-sum")] || 0;
    var minus = output.getAttribute("data-minus");
    if (minus) { total -= sums[minus] || 0; }
    output.textContent = euros.format(Math.round(total * 100) / 100);
  });
}
document.addEventListener("input", function (event) {
  if (event.target.matches && event.target.matches("input[data-sums]")) { cadreTotals(); }
});
document.addEventListener("DOMContentLoaded", cadreTotals);
