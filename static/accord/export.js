// The export page (templates/exports/export.html): keeps the curl and Python snippets in step
// with the form, polls the snapshots still being written (GET /api/v1/export-snapshots/<id>/,
// the API's own progress) and copies a snippet on click. No inline script: the CSP forbids it.
(function () {
  "use strict";
  const form = document.getElementById("export-form");
  if (!form) return;

  function query() {
    const data = new FormData(form);
    const statuses = data.getAll("status").sort();  // sorted, as the server writes them
    const parts = ["format=" + (data.get("format") || "jsonl"),
      "status=" + (statuses.includes("all") ? "all" : statuses.join(","))];
    const include = data.getAll("include");
    if (include.length) parts.push("include=" + include.join(","));
    const since = (data.get("since") || "").trim();
    if (since) parts.push("since=" + encodeURIComponent(since));
    if (data.get("reveal_raters")) parts.push("reveal_raters=true");
    return parts.join("&");
  }

  function refreshSnippets() {
    const url = form.dataset.exportUrl + "?" + query();
    const format = new FormData(form).get("format") || "jsonl";
    const file = url.match(/projects\/(\d+)\//)[1];
    const name = "project-" + file + "-export." + format;
    const curl = document.getElementById("snippet-curl");
    const python = document.getElementById("snippet-python");
    if (curl) {
      curl.textContent = 'curl -fsS -H "Authorization: Token $ACCORD_TOKEN" \\\n  "' + url + '" \\\n  -o ' + name;
    }
    if (python) {
      python.textContent = python.textContent
        .replace(/"https?:\/\/[^"]*\/export\/\?[^"]*"/, '"' + url + '"')
        .replace(/open\("[^"]*"/, 'open("' + name + '"');
    }
  }
  form.addEventListener("change", refreshSnippets);
  form.addEventListener("input", refreshSnippets);

  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      const text = document.getElementById(button.dataset.copy).textContent;
      const done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () {});
      } else {
        const area = document.createElement("textarea");
        area.value = text; document.body.appendChild(area); area.select();
        try { document.execCommand("copy"); done(); } finally { area.remove(); }
      }
    });
  });

  // Poll the exports still queued or running; reload once one has finished, for its manifest.
  const pending = Array.from(document.querySelectorAll("tr[data-snapshot]")).filter(function (row) {
    return row.dataset.status === "queued" || row.dataset.status === "running";
  });
  if (!pending.length) return;
  let finished = false;
  function poll() {
    Promise.all(pending.map(function (row) {
      return fetch(row.dataset.detailUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) return;
          const bar = row.querySelector("progress");
          if (s.progress !== null && s.progress !== undefined) { bar.max = 1; bar.value = s.progress; }
          row.querySelector(".snapshot-status").textContent = s.status + (s.total ? " · " + s.done + " / " + s.total : "");
          if (s.status === "succeeded" || s.status === "failed") finished = true;
        });
    })).then(function () {
      if (finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
    }, function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
