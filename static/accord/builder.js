// The rubric builder: add, remove and reorder criterion cards (drag the grip, or Alt+↑ / Alt+↓,
// or the arrow buttons), show only the fields of each card's scale kind, one anchor field per
// ordinal point, and a live preview with each field's errors from the server (the same checks
// as saving). Text from the server is set with textContent; the preview HTML is the server's
// own template output, escaped there.
(function () {
  "use strict";
  var form = document.getElementById("builder");
  if (!form) return;
  var cards = form.querySelector('[data-role="cards"]');
  var template = document.getElementById("criterion-template");
  var preview = document.getElementById("preview");
  var counter = 0;
  var dragging = null;
  var timer = null;

  function slug(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 64);
  }

  function showKind(card) {
    var kind = card.querySelector('[data-role="kind"]').value;
    card.querySelectorAll(".kind-fields").forEach(function (block) {
      block.hidden = block.dataset.kind.split(" ").indexOf(kind) < 0;
    });
    card.querySelectorAll("[data-only]").forEach(function (node) { node.hidden = node.dataset.only !== kind; });
    anchors(card);
  }

  function anchors(card) {
    var box = card.querySelector('[data-role="anchors"]');
    if (!box || box.hidden) return;
    var uid = card.dataset.uid;
    var low = Number(card.querySelector('[data-role="min"]').value);
    var high = Number(card.querySelector('[data-role="max"]').value);
    var old = {};
    box.querySelectorAll("input[data-point]").forEach(function (input) { old[input.dataset.point] = input.value; });
    box.querySelectorAll(".anchor-row").forEach(function (row) { row.remove(); });
    if (!Number.isInteger(low) || !Number.isInteger(high) || high < low || high - low > 100) return;
    for (var p = low; p <= high; p++) {
      var row = document.createElement("div");
      row.className = "anchor-row";
      var label = document.createElement("label");
      label.htmlFor = "c-" + uid + "-anchor-" + p;
      label.textContent = String(p);
      var input = document.createElement("input");
      input.id = label.htmlFor;
      input.name = label.htmlFor;
      input.dataset.point = String(p);
      input.value = old[String(p)] || "";
      row.appendChild(label);
      row.appendChild(input);
      box.appendChild(row);
    }
  }

  function setup(card) {
    card.querySelector('[data-role="kind"]').addEventListener("change", function () { showKind(card); });
    ["min", "max"].forEach(function (role) {
      card.querySelector('[data-role="' + role + '"]').addEventListener("input", function () { anchors(card); });
    });
    var title = card.querySelector('[data-role="title"]');
    var key = card.querySelector('[data-role="key"]');
    key.addEventListener("input", function () { key.dataset.touched = "1"; });
    title.addEventListener("input", function () {
      card.querySelector('[data-role="card-title"]').textContent = title.value || "New criterion";
      if (!key.dataset.touched) key.value = slug(title.value);
    });
    card.querySelector('[data-action="remove"]').addEventListener("click", function () {
      var next = card.nextElementSibling || card.previousElementSibling;
      card.remove();
      if (next) next.focus();
      else document.getElementById("add-criterion").focus();
      changed();
    });
    card.querySelector('[data-action="up"]').addEventListener("click", function () { move(card, -1); });
    card.querySelector('[data-action="down"]').addEventListener("click", function () { move(card, 1); });
    card.addEventListener("keydown", function (e) {
      if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
        e.preventDefault();
        move(card, e.key === "ArrowUp" ? -1 : 1);
      }
    });
    var grip = card.querySelector('[data-role="grip"]');
    grip.addEventListener("dragstart", function (e) {
      card.classList.add("is-dragging");
      dragging = card;
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", card.dataset.uid);
    });
    grip.addEventListener("dragend", function () {
      card.classList.remove("is-dragging");
      dragging = null;
      clearDrop();
    });
    card.addEventListener("dragover", function (e) {
      if (!dragging) return;  // a file or text dragged in from elsewhere
      e.preventDefault();
      clearDrop();
      card.classList.add("drop-before");
    });
    card.addEventListener("drop", function (e) {
      e.preventDefault();
      clearDrop();
      var moving = dragging;
      if (moving && moving !== card) {
        cards.insertBefore(moving, card);
        changed();
      }
    });
    showKind(card);
  }

  function clearDrop() {
    cards.querySelectorAll(".drop-before").forEach(function (c) { c.classList.remove("drop-before"); });
  }

  function move(card, step) {
    var other = step < 0 ? card.previousElementSibling : card.nextElementSibling;
    if (!other) return;
    if (step < 0) cards.insertBefore(card, other);
    else cards.insertBefore(other, card);
    card.focus();
    changed();
  }

  function add() {
    counter += 1;
    var uid = "a" + Date.now().toString(36) + counter;
    var html = template.innerHTML.split("__uid__").join(uid);
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var card = holder.querySelector("[data-card]");
    cards.appendChild(card);
    setup(card);
    card.querySelector('[data-role="title"]').focus();
    changed();
  }

  function showErrors(errors) {
    cards.querySelectorAll("[data-card]").forEach(function (card) {
      var mine = errors[card.dataset.uid] || {};
      card.querySelectorAll("[data-error-for]").forEach(function (list) {
        list.textContent = "";
        (mine[list.dataset.errorFor] || []).forEach(function (message) {
          var li = document.createElement("li");
          li.textContent = message;
          list.appendChild(li);
        });
      });
    });
  }

  function refresh() {
    var body = new FormData(form);
    fetch(form.dataset.preview, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRFToken": body.get("csrfmiddlewaretoken"), Accept: "application/json" },
    }).then(function (r) { return r.json(); }).then(function (answer) {
      preview.innerHTML = answer.html;  // the server's rendering of rubrics/criteria_form.html
      showErrors(answer.errors || {});
    }).catch(function () {});
  }

  function changed() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  cards.querySelectorAll("[data-card]").forEach(setup);
  document.getElementById("add-criterion").addEventListener("click", add);
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  var dirty = false;
  form.addEventListener("input", function () { dirty = true; });
  var ask = document.querySelector('[data-role="publish-ask"]');
  if (ask) {
    ask.addEventListener("click", function () {
      var confirmBox = document.querySelector('[data-role="publish-confirm"]');
      if (dirty) {
        document.querySelector('[data-role="publish-text"]').textContent =
          "You have unsaved changes: save the draft first, then publish.";
        confirmBox.querySelector("button").hidden = true;
      }
      confirmBox.hidden = false;
      ask.hidden = true;
      (dirty ? document.getElementById("save-draft") : confirmBox.querySelector("button")).focus();
    });
  }
})();
