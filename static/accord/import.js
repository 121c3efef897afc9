// The import page: upload (drag and drop or the file input), preview, check every row (a dry
// run), import; polls the job for its progress. Every text from the file or the server is set
// with textContent, never as HTML.
(function () {
  "use strict";
  var csrfInput = document.querySelector("#import-csrf input[name=csrfmiddlewaretoken]");
  var csrf = csrfInput ? csrfInput.value : "";
  var finished = { uploaded: true, checked: true, rejected: true, done: true, failed: true };

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function setup(root) {
    var kind = root.dataset.kind;
    var part = function (name) { return root.querySelector('[data-role="' + name + '"]'); };
    var job = null;
    var timer = null;

    function error(message) {
      var box = part("error");
      box.textContent = message || "";
      box.hidden = !message;
    }

    function messagesOf(errors) {
      var out = [];
      Object.keys(errors || {}).forEach(function (field) {
        if (field === "rows" || field === "detail") return;
        [].concat(errors[field]).forEach(function (m) { out.push(field + ": " + m); });
      });
      return out.join(" ");
    }

    function renderPreview(state) {
      part("preview").hidden = false;
      part("file-name").textContent = "(" + state.file_name + ", about " + state.rows_total + " rows)";
      var fields = state.preview.fields || {};
      var names = (fields.row || []).slice();
      Object.keys(fields).forEach(function (group) {
        if (group !== "row") (fields[group] || []).forEach(function (f) { names.push(group + "." + f); });
      });
      part("fields").textContent = names.length ? names.join(", ") : "none";
      var body = part("rows");
      body.textContent = "";
      (state.preview.rows || []).forEach(function (row) {
        var tr = el("tr");
        tr.appendChild(el("td", row.line));
        var text = row.error ? "unreadable: " + JSON.stringify(row.error) : JSON.stringify(row.value);
        var cell = el("td", text.length > 300 ? text.slice(0, 300) + "…" : text, row.error ? "error" : "mono");
        cell.title = text.slice(0, 2000);
        tr.appendChild(cell);
        body.appendChild(tr);
      });
    }

    function renderBad(rows) {
      var table = part("bad");
      var body = table.querySelector("tbody");
      body.textContent = "";
      (rows || []).forEach(function (row) {
        Object.keys(row.errors || {}).forEach(function (field) {
          [].concat(row.errors[field]).forEach(function (message) {
            var tr = el("tr");
            tr.appendChild(el("td", row.row));
            tr.appendChild(el("td", row.external_id === undefined || row.external_id === null ? "" : row.external_id));
            tr.appendChild(el("td", field, "mono"));
            tr.appendChild(el("td", message));
            body.appendChild(tr);
          });
        });
      });
      table.hidden = !(rows && rows.length);
    }

    function renderOutcome(state) {
      var box = part("outcome");
      box.textContent = "";
      box.hidden = true;
      renderBad(null);
      if (state.status === "checked" || state.status === "done") {
        var r = state.result || {};
        box.appendChild(el("p", state.status === "checked" ? "Every row is fine. Importing would give:" : "Imported.",
          state.status === "done" ? "notice" : ""));
        var dl = el("p");
        ["created", "updated", "unchanged"].forEach(function (key) {
          if (r[key] === undefined) return;
          var span = el("span", "", "summary-part");
          span.appendChild(el("span", r[key], "summary-num"));
          span.appendChild(document.createTextNode(" " + key + "   "));
          span.dataset.count = key;
          dl.appendChild(span);
        });
        box.appendChild(dl);
        box.hidden = false;
      } else if (state.status === "rejected" || state.status === "failed") {
        var errors = state.errors || {};
        box.appendChild(el("p", (errors.detail || "Nothing was imported.") + " " + messagesOf(errors), "error-banner"));
        box.hidden = false;
        renderBad(errors.rows);
      }
      part("run").hidden = state.status === "done";
      part("check").hidden = state.status === "done";
    }

    function renderProgress(state) {
      var running = !finished[state.status];
      part("progress").hidden = !running && state.status !== "done";
      var bar = part("bar");
      bar.max = Math.max(state.rows_total, state.rows_done, 1);
      bar.value = state.status === "done" ? bar.max : state.rows_done;
      var phase = { "": "Waiting for a worker…", reading: "Reading and checking rows…", writing: "Writing…" };
      part("phase").textContent = running ? (state.status === "queued" ? "Queued…" : phase[state.phase] || "") :
        state.status === "done" ? "Done." : "";
      part("count").textContent = state.rows_done + " / " + state.rows_total + " rows";
      part("check").disabled = part("run").disabled = running;
    }

    function render(state) {
      job = state;
      renderProgress(state);
      if (finished[state.status]) renderOutcome(state);
    }

    function poll() {
      clearTimeout(timer);
      fetch(root.dataset.jobs + job.id + "/", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (state) {
          render(state);
          if (!finished[state.status]) timer = setTimeout(poll, 400);
        })
        .catch(function () { timer = setTimeout(poll, 1500); });
    }

    function post(url, body) {
      return fetch(url, {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      }).then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); });
    }

    function upload(file) {
      if (!file) return;
      error("");
      part("outcome").hidden = true;
      renderBad(null);
      part("preview").hidden = true;
      var form = new FormData();
      form.append("kind", kind);
      form.append("file", file);
      post(root.dataset.upload, form).then(function (answer) {
        if (!answer.ok) { error(messagesOf(answer.data.errors)); return; }
        job = answer.data;
        renderPreview(job);
        renderOutcome(job);
        part("progress").hidden = true;
        part("check").focus();
      }).catch(function () { error("The upload failed; try again."); });
    }

    function go(action) {
      if (!job) return;
      error("");
      part("outcome").hidden = true;
      renderBad(null);
      post(root.dataset.jobs + job.id + "/" + action + "/").then(function (answer) {
        if (!answer.ok) { error(messagesOf(answer.data.errors)); return; }
        render(answer.data);
        if (!finished[answer.data.status]) poll();
      });
    }

    var drop = part("drop");
    part("file").addEventListener("change", function (e) { upload(e.target.files[0]); });
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("is-over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("is-over"); });
    });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
    });
    part("check").addEventListener("click", function () { go("check"); });
    part("run").addEventListener("click", function () { go("run"); });
  }

  document.querySelectorAll("[data-import]").forEach(setup);
})();
