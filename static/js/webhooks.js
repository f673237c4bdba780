// Webhook endpoint form: with "all events" ticked, the individual event types are greyed out (they are ignored).
(function () {
  "use strict";
  function sync(all) {
    var picker = all.closest("[data-event-types]");
    var groups = picker && picker.querySelector("[data-event-type-groups]");
    if (groups) { groups.disabled = all.checked; }
  }
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-all-events]")) { sync(e.target); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-all-events]").forEach(sync);
  });
})();
