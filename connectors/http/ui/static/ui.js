// Logloom's web UI: the one script. Pages work without it; it keeps a running run's page live.
//
// 1. A running run's page listens to /ui/runs/<id>/events (the API's SSE stream of its
//    records, from the last record the page shows on);
// 2. when a record comes, it asks /ui/runs/<id>/live?version=V for the page's changing part
//    (204 while nothing changed) and swaps it in, a moment later so a burst of records makes
//    one request, and never while a form in it has the focus;
// 3. on the stream's end event (the run has ended) it closes the stream and asks once more.
// Without EventSource it asks every few seconds instead. Leaving the page closes the stream.
(function () {
  "use strict";
  var BURST_MS = 250;
  var RETRY_MS = 2000;
  var source = null;
  var timer = null;

  function section() { return document.getElementById("live"); }

  function editing(live) {
    var active = document.activeElement;
    return active && active !== document.body && live.contains(active) && active.form;
  }

  function later(delay) { if (timer === null) timer = setTimeout(refresh, delay); }

  function swap(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("#live");
    var current = section();
    if (!fresh || !current) return;
    var records = current.querySelector("#records-details");
    var freshRecords = fresh.querySelector("#records-details");
    if (records && records.open && freshRecords) freshRecords.open = true;
    current.replaceWith(fresh);
    if (!fresh.dataset.live && source) { source.close(); source = null; }
  }

  function refresh() {
    timer = null;
    var live = section();
    if (!live || !live.dataset.live) return;
    if (editing(live)) { later(RETRY_MS); return; }
    var url = live.dataset.live + "?version=" + encodeURIComponent(live.dataset.version || "");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 200) return response.text();
        if (response.status !== 204) throw new Error("HTTP " + response.status);
        return null;
      })
      .then(function (html) { if (html !== null) swap(html); })
      .catch(function () { later(RETRY_MS); });
  }

  function start() {
    var live = section();
    if (!live || !live.dataset.live) return;
    if (!window.EventSource) { setInterval(function () { later(0); }, RETRY_MS); return; }
    var from = encodeURIComponent(live.dataset.lastEvent || "");
    source = new EventSource(live.dataset.events + "?last_event_id=" + from);
    source.addEventListener("record", function () { later(BURST_MS); });
    source.addEventListener("end", function () { source.close(); source = null; later(0); });
  }

  function stop() { if (source) { source.close(); source = null; } }

  document.addEventListener("DOMContentLoaded", start);
  // leaving the page (or its being kept in the back-forward cache) closes the stream at once
  window.addEventListener("pagehide", stop);
  window.addEventListener("pageshow", function (event) { if (event.persisted) { later(0); start(); } });
})();
