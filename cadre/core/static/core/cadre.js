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
