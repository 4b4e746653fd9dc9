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
