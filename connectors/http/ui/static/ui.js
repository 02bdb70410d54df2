// Logloom's web UI: the one script. Pages work without it; it keeps a running run's page live.
// While a run goes on, its page asks /ui/runs/<id>/live for its changing part about once a
// second: 204 while nothing changed, else the new part, swapped in (not while a form in it is
// being filled in). It stops once the run has ended.
(function () {
  "use strict";
  var POLL_MS = 1000;

  function editing(section) {
    var active = document.activeElement;
    return active && active !== document.body && section.contains(active) && active.form;
  }

  function poll() {
    var section = document.getElementById("live");
    if (!section || !section.dataset.live) return;
    if (editing(section)) { setTimeout(poll, POLL_MS); return; }
    var url = section.dataset.live + "?version=" + encodeURIComponent(section.dataset.version || "");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 200) return response.text();
        if (response.status !== 204) throw new Error("HTTP " + response.status);
        return null;
      })
      .then(function (html) {
        if (html !== null) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#live");
          if (fresh) {
            var open = section.querySelector("#records-details");
            if (open && open.open) { var d = fresh.querySelector("#records-details"); if (d) d.open = true; }
            section.replaceWith(fresh);
          }
        }
        setTimeout(poll, POLL_MS);
      })
      .catch(function () { setTimeout(poll, POLL_MS * 5); });
  }

  document.addEventListener("DOMContentLoaded", function () { setTimeout(poll, POLL_MS); });
})();
