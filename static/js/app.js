// Small behaviours shared by every page. No inline scripts: a strict CSP stays possible.
(function () {
  "use strict";
  // Select-all checkbox for bulk actions: <input type="checkbox" data-select-all="name">
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches && t.matches("[data-select-all]")) {
      document.querySelectorAll('input[type=checkbox][name="' + t.dataset.selectAll + '"]').forEach(function (box) {
        box.checked = t.checked;
      });
    }
  });
  // Forms and buttons with data-confirm="question?" ask before they submit (non-htmx forms).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.dataset && form.dataset.confirm;
    if (question && !window.confirm(question)) { e.preventDefault(); }
  });
  // After htmx swaps in a fragment with [autofocus], focus it (e.g. the check-in search box).
  document.addEventListener("htmx:afterSettle", function (e) {
    var el = e.target.querySelector && e.target.querySelector("[data-refocus]");
    if (el) { el.focus(); if (el.select) el.select(); }
  });
})();
