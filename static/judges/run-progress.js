// Keeps the judge run page's progress bar current by polling GET /api/v1/judge-runs/<id>/.
(function () {
  "use strict";
  var root = document.getElementById("judge-run");
  if (!root) return;
  var api = root.dataset.api;
  var finished = { succeeded: true, failed: true, cancelled: true, stopped_budget: true };
  // Statuses and outcomes in words, as the server names them (RunStatus, Outcome labels).
  var words = JSON.parse(root.dataset.words || '{"status": {}, "outcome": {}, "batch": {}}');

  function word(kind, slug) {
    return words[kind][slug] || slug;
  }

  function set(name, value) {
    root.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) { el.textContent = value; });
  }

  function render(run) {
    ["done", "total", "failed", "no_verdict", "input_tokens", "output_tokens", "cost_usd_estimate"].forEach(
      function (name) { set(name, run[name]); }
    );
    set("status", word("status", run.status));
    var bar = root.querySelector('[data-field="bar"]');
    bar.max = run.total || 1;
    bar.value = run.done + run.failed + run.no_verdict;
    set("timing", timing(run));
    set("queued", queued(run));
    if (run.batch) set("batch_state", word("batch", run.batch.state));
    if (run.batch) set("batch_counts", batchCounts(run.batch));
    var given = root.querySelector('[data-role="batch-errors"]');
    if (given && run.batch) {
      set("batch_errors", (run.batch.errors || []).join("; "));
      given.hidden = !(run.batch.errors || []).length;
    }
    if (run.problems) renderProblems(run.problems);
    var error = root.querySelector('[data-field="error"]');
    error.textContent = run.error || "";
    error.hidden = !run.error;
    if (finished[run.status]) {
      var form = root.querySelector('[data-role="cancel"]');
      if (form) form.remove();
    }
  }

  // The provider's own counts while it works; then what was stored and what went live.
  function batchCounts(batch) {
    if (batch.state === "done" || batch.state === "ingesting") {
      return batch.ingested + " answers stored, " + batch.sent_live + " sent again live (failed or invalid lines)";
    }
    var text = batch.completed + " of " + batch.requests + " requests answered by the provider";
    return batch.failed ? text + ", " + batch.failed + " failed" : text;
  }

  function duration(seconds) {
    seconds = Math.max(0, seconds);
    if (seconds < 10) return (Math.round(seconds * 10) / 10).toFixed(1) + " s"; // a fast run is not "0 s"
    seconds = Math.round(seconds);
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + (seconds % 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  // How long the run waited for a worker: from its creation until a worker started it.
  function queued(run) {
    var created = Date.parse(run.created_at);
    if (run.started_at) return duration((Date.parse(run.started_at) - created) / 1000) + " before a worker took it";
    if (finished[run.status]) return "never started";
    return duration((Date.now() - created) / 1000) + " so far, waiting for a worker";
  }

  // How long it ran, and while running an estimate of what is left from the pace so far.
  function timing(run) {
    if (!run.started_at) return finished[run.status] ? word("status", run.status) : "not started";
    var start = Date.parse(run.started_at);
    if (run.finished_at) return duration((Date.parse(run.finished_at) - start) / 1000);
    var elapsed = (Date.now() - start) / 1000;
    var done = run.done + run.failed + run.no_verdict;
    var text = duration(elapsed) + " so far";
    if (done > 0 && run.total > done) text += ", about " + duration((elapsed / done) * (run.total - done)) + " left";
    return text;
  }

  // Reasons carry provider and model text: built with textContent, never as HTML.
  function renderProblems(problems) {
    var section = root.querySelector('[data-role="problems"]');
    var body = section.querySelector("tbody");
    body.replaceChildren();
    problems.forEach(function (problem) {
      var row = document.createElement("tr");
      [word("outcome", problem.outcome), problem.reason, problem.items].forEach(function (value, index) {
        var cell = document.createElement("td");
        cell.textContent = value;
        if (index === 2) cell.className = "num";
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
    section.hidden = problems.length === 0;
  }

  function poll() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (run) {
        render(run);
        if (!finished[run.status]) window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  var form = root.querySelector('[data-role="cancel"]');
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
      fetch(root.dataset.cancel, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": token } })
        .then(function (r) { return r.json(); })
        .then(render);
    });
  }
  poll();
})();
