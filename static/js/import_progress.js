/* Import job page. Progress: polls the job's JSON state (a GET, so no CSRF token is needed and
   nothing is written) and shows where the job is (its place in the queue, the worker running it,
   a worker that stopped answering), rows done of total, rows per second and time left. When the
   job has ended the page is reloaded to show the result. (Forms with data-confirm: page_actions.js.) */
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var bar = document.getElementById("import-progress-bar");
  var text = document.getElementById("import-progress-text");
  var where = document.getElementById("job-where");
  var resumed = document.getElementById("job-resumed");
  function duration(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return (m ? m + " min " : "") + s + " s";
  }
  function show(state) {
    var parts = [state.rows_done.toLocaleString("sv-SE") + (state.total ? " / " + state.total.toLocaleString("sv-SE") : "") + " " + box.dataset.rows];
    if (state.rate) { parts.push(state.rate.toLocaleString("sv-SE") + " " + box.dataset.perSecond); }
    if (state.seconds_left !== null) { parts.push(duration(state.seconds_left) + " " + box.dataset.left); }
    text.textContent = parts.join(" · ");
    if (where) { where.textContent = state.where; }
    if (resumed) { resumed.textContent = state.resumed; }
    if (state.percent !== null) {
      bar.style.width = state.percent + "%";
      bar.setAttribute("aria-valuenow", state.percent);
      bar.textContent = state.percent + " %";
      bar.classList.remove("progress-bar-striped", "progress-bar-animated");
    }
  }
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (!state) { window.setTimeout(poll, 3000); return; }
        show(state);
        if (state.active) { window.setTimeout(poll, 700); } else { window.location.reload(); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 300);
}());
