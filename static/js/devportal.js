// Developer pages: copy a code sample (<button data-copy-code="#pre-id">), and show one language of a sample at a time.
(function () {
  "use strict";

  function copyText(text, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else {
      fallback(text);
      done();
    }
  }

  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "sr-only";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("[data-copy-code]") : null;
    if (!button) { return; }
    var block = document.querySelector(button.dataset.copyCode);
    if (!block) { return; }
    var label = button.textContent;
    copyText(block.textContent, function () {
      button.textContent = button.dataset.copiedLabel || "Copied";
      window.setTimeout(function () { button.textContent = label; }, 2000);
    });
  });

  function show(container, language) {
    container.querySelectorAll("[data-sample-tab]").forEach(function (tab) {
      if (tab.dataset.sampleTab === language) { tab.setAttribute("aria-current", "page"); } else { tab.removeAttribute("aria-current"); }
    });
    container.querySelectorAll("[data-sample-panel]").forEach(function (panel) {
      panel.hidden = panel.dataset.samplePanel !== language;
    });
  }

  document.addEventListener("click", function (e) {
    var tab = e.target.closest ? e.target.closest("[data-sample-tab]") : null;
    if (!tab) { return; }
    e.preventDefault();
    // one choice for every sample on the page: a Python reader wants Python everywhere
    document.querySelectorAll("[data-sample-tabs]").forEach(function (container) { show(container, tab.dataset.sampleTab); });
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-sample-tabs]").forEach(function (container) { show(container, "curl"); });
  });
})();
