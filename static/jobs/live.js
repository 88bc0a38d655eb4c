// Live regions: an element with data-live="URL" is replaced by a fresh rendering of URL every
// data-every seconds, without a page reload. Refreshing pauses while the user interacts: a ticked
// checkbox inside the region, focus in a form field, selected text, a key or click in the last few
// seconds, a hidden tab, or the pause toggle.
(function () {
  "use strict";
  var lastInteraction = 0;
  ["keydown", "pointerdown", "input", "focusin"].forEach(function (type) {
    document.addEventListener(type, function () { lastInteraction = Date.now(); }, true);
  });

  function pausedReason(region) {
    var toggle = document.querySelector("[data-live-pause]");
    if (toggle && toggle.checked) return "paused";
    if (document.hidden) return "tab hidden";
    if (region.querySelector("input[type=checkbox]:checked")) return "paused: rows selected";
    var active = document.activeElement;
    if (active && active !== document.body && active.matches("input:not([type=checkbox]):not([type=submit]), select, textarea")) {
      return "paused while you type";
    }
    var selection = window.getSelection && window.getSelection();
    if (selection && !selection.isCollapsed && region.contains(selection.anchorNode)) return "paused: text selected";
    if (Date.now() - lastInteraction < 3000) return "paused while you interact";
    return "";
  }

  function start(region) {
    var every = (parseFloat(region.getAttribute("data-every")) || 5) * 1000;
    var state = document.querySelector("[data-live-state]");
    var busy = false;
    function say(text) { if (state) state.textContent = text; }
    setInterval(function () {
      var reason = pausedReason(region);
      if (reason) { say(reason); return; }
      if (busy) return;
      busy = true;
      fetch(region.getAttribute("data-live"), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) {
          if (!response.ok || response.redirected) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          if (!pausedReason(region)) {
            region.innerHTML = html;
            say("updated " + new Date().toLocaleTimeString());
          }
        })
        .catch(function (error) { say("refresh failed: " + error.message); })
        .finally(function () { busy = false; });
    }, every);
  }

  document.querySelectorAll("[data-live]").forEach(start);

  // Buttons that change or delete things ask first: data-confirm="question" on the button (or form).
  // Here rather than in onclick attributes, which the Content-Security-Policy does not run.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // "Select all" boxes of bulk forms (they live outside the refreshed region).
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    var form = document.getElementById(all.getAttribute("data-select-all"));
    if (!form) return;
    document.querySelectorAll("input[type=checkbox][name=ids][form=" + form.id + "]").forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();
