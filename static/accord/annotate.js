/* The annotate page: draft autosave (server + localStorage), visible-tab timer, skip, shortcuts,
   the wait for items others hold (the queue page asks again by itself), and the way back:
   ← / Backspace to the item rated (or skipped) before this one, → back to the queue from an
   earlier item, U to take a skip back.

   Drafts (a rating still to make only): every change is written to localStorage at once and PUT
   to the draft API after a short pause. The local copy remembers whether the server has it
   ("synced"); on load an unsynced local copy (the server was unreachable, or the tab died before
   the PUT) wins over the server's draft, which the page already shows. Submitting or skipping
   forgets the local copy. A stored rating being changed has no draft: the page shows it.
   Reads its settings from <script id="annotate-config" type="application/json">. */
(function () {
  "use strict";

  var configEl = document.getElementById("annotate-config");
  if (!configEl) return;
  var config = JSON.parse(configEl.textContent);
  var form = document.getElementById("rating-form");
  var Accord = window.Accord || {};

  function typing() {
    return Accord.isTyping ? Accord.isTyping(document.activeElement) : false;
  }

  /* ---- the way back and the shortcuts list (on every annotate page, the empty queue's too) ---- */
  var unskipForm = document.getElementById("unskip-form");
  var shortcutsDialog = document.getElementById("shortcuts");
  var shortcutsOpen = document.getElementById("shortcuts-open");

  function toggleShortcuts() {
    if (!shortcutsDialog) return;
    if (shortcutsDialog.open) shortcutsDialog.close();
    else shortcutsDialog.showModal();
  }

  if (shortcutsOpen) shortcutsOpen.addEventListener("click", toggleShortcuts);
  document.querySelectorAll("dialog [data-close]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.closest("dialog").close();
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.key === "?" && !typing()) {
      var other = document.querySelector("dialog[open]");
      if (other && other !== shortcutsDialog) return;
      event.preventDefault();
      toggleShortcuts();
      return;
    }
    if (document.querySelector("dialog[open]") || typing()) return;
    if ((event.key === "ArrowLeft" || event.key === "Backspace") && config.previousUrl) {
      event.preventDefault(); // also keeps ← from moving a radio group's choice
      window.location.assign(config.previousUrl);
    } else if (event.key === "ArrowRight" && config.mode !== "new" && config.queueUrl) {
      event.preventDefault();
      window.location.assign(config.queueUrl);
    } else if ((event.key === "u" || event.key === "U") && unskipForm) {
      event.preventDefault();
      unskipForm.requestSubmit();
    }
  });
  /* ---- waiting for items others hold: count down, then ask the queue again ---- */
  if (config.mode === "waiting" && config.queueUrl) {
    var retryIn = document.getElementById("retry-in");
    var left = Math.max(1, Number(config.retryAfter) || 1);
    var countdown = window.setInterval(function () {
      left -= 1;
      if (retryIn) retryIn.textContent = String(Math.max(left, 0));
      if (left > 0) return;
      window.clearInterval(countdown);
      window.location.replace(config.queueUrl);
    }, 1000);
  }
  // A refused form is answered at the page's own URL: make that entry a plain GET, so a reload
  // shows the page again instead of posting the form a second time.
  if (config.refused && window.history.replaceState) window.history.replaceState(null, "", window.location.href);
  if (!form || !window.Accord) {
    if (unskipForm) document.getElementById("unskip").focus();
    return;
  }
  var drafts = Boolean(config.draftUrl);

  var SAVE_DELAY_MS = 700;
  var storeKey = "accord:draft:" + config.itemId;
  var statusEl = document.getElementById("draft-status");
  var timerEl = document.getElementById("timer");
  var secondsInput = form.elements.namedItem("seconds_spent");
  var skipDialog = document.getElementById("skip-dialog");

  function setStatus(text, kind) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.dataset.state = kind || "";
  }

  /* ---- time on item: counts only while the tab is visible ---- */
  var banked = Number(config.secondsSpent) || 0;
  var visibleSince = document.visibilityState === "visible" ? performance.now() : null;

  function seconds() {
    var running = visibleSince === null ? 0 : (performance.now() - visibleSince) / 1000;
    return banked + running;
  }

  function renderTimer() {
    if (!timerEl) return;
    var total = Math.floor(seconds());
    var s = total % 60;
    timerEl.textContent = Math.floor(total / 60) + ":" + (s < 10 ? "0" : "") + s;
  }

  /* ---- local copy ---- */
  function readLocal() {
    try {
      return JSON.parse(window.localStorage.getItem(storeKey) || "null");
    } catch (e) {
      return null;
    }
  }

  function writeLocal(record) {
    try {
      window.localStorage.setItem(storeKey, JSON.stringify(record));
    } catch (e) {
      /* storage full or disabled: the server copy still works */
    }
  }

  function forgetLocal() {
    try {
      window.localStorage.removeItem(storeKey);
    } catch (e) {
      /* ignore */
    }
  }

  /* ---- server copy ---- */
  var csrf = form.elements.namedItem("csrfmiddlewaretoken").value;
  var saveTimer = null;
  var revision = 0;
  var inflight = null;
  var closing = false;

  function snapshot() {
    var snap = Accord.formSnapshot(form);
    snap.seconds_spent = Math.round(seconds() * 10) / 10;
    return snap;
  }

  function rememberLocally() {
    if (!drafts) return revision;
    revision += 1;
    var snap = snapshot();
    writeLocal({ values: snap.values, rationales: snap.rationales, seconds: snap.seconds_spent, synced: false, savedAt: Date.now() });
    return revision;
  }

  function saveToServer(options) {
    if (closing || !drafts) return;
    window.clearTimeout(saveTimer);
    saveTimer = null;
    var mine = revision;
    var snap = snapshot();
    if (inflight) inflight.abort();
    var controller = new AbortController();
    inflight = controller;
    setStatus("Saving draft…", "saving");
    fetch(config.draftUrl, {
      method: "PUT",
      credentials: "same-origin",
      keepalive: Boolean(options && options.keepalive),
      signal: controller.signal,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify(snap),
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        if (mine === revision) {
          writeLocal({ values: snap.values, rationales: snap.rationales, seconds: snap.seconds_spent, synced: true, savedAt: Date.now() });
        }
        var now = new Date();
        setStatus("Draft saved " + now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }), "saved");
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        setStatus("Saved in this browser only — server unreachable", "local");
      })
      .finally(function () {
        if (inflight === controller) inflight = null;
      });
  }

  function changed() {
    if (closing || !drafts) return;
    rememberLocally();
    setStatus("Unsaved changes…", "dirty");
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(saveToServer, SAVE_DELAY_MS);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      visibleSince = performance.now();
    } else {
      if (visibleSince !== null) banked += (performance.now() - visibleSince) / 1000;
      visibleSince = null;
      if (saveTimer !== null) saveToServer({ keepalive: true });
    }
  });
  window.addEventListener("pagehide", function () {
    if (saveTimer !== null) saveToServer({ keepalive: true });
  });

  /* ---- restore, and prune copies of other items older than a week ---- */
  var PRUNE_MS = 7 * 24 * 3600 * 1000;
  try {
    for (var i = window.localStorage.length - 1; i >= 0; i -= 1) {
      var key = window.localStorage.key(i);
      if (!key || key.indexOf("accord:draft:") !== 0 || key === storeKey) continue;
      var old = JSON.parse(window.localStorage.getItem(key) || "null");
      if (!old || !(Date.now() - Number(old.savedAt) < PRUNE_MS)) window.localStorage.removeItem(key);
    }
  } catch (e) {
    /* storage disabled */
  }
  var local = drafts ? readLocal() : null;
  if (config.restoreLocal && local && !local.synced) {
    Accord.formApply(form, local.values, local.rationales);
    banked = Math.max(banked, Number(local.seconds) || 0);
    setStatus("Restored unsaved answers from this browser", "local");
    saveTimer = window.setTimeout(saveToServer, SAVE_DELAY_MS);
  } else if (config.draftUpdatedAt) {
    setStatus("Draft restored", "saved");
  }
  renderTimer();
  window.setInterval(renderTimer, 1000);

  /* ---- submit, skip, shortcuts ---- */
  function leaving() {
    closing = true;
    window.clearTimeout(saveTimer);
    saveTimer = null;
    if (inflight) inflight.abort();
  }

  // Submitting keeps the local copy, up to the last keystroke: if the post never lands (the
  // session expired, the network dropped) the answers come back with the item. A rated item is
  // never offered again, so its copy is only pruned. A skip is deliberate: forget it.
  form.addEventListener("submit", function () {
    if (secondsInput) secondsInput.value = (Math.round(seconds() * 10) / 10).toString();
    rememberLocally();
    leaving();
  });

  function openSkip() {
    if (!skipDialog || skipDialog.open) return;
    skipDialog.showModal();
    var reason = skipDialog.querySelector("input[name=reason]");
    if (reason) reason.focus();
  }

  var skipOpen = document.getElementById("skip-open");
  var skipForm = document.getElementById("skip-form");
  if (skipOpen) skipOpen.addEventListener("click", openSkip);
  if (skipForm) {
    skipForm.addEventListener("submit", function () {
      leaving();
      forgetLocal();
    });
  }
  [skipDialog, shortcutsDialog].forEach(function (dialog) {
    if (!dialog) return;
    dialog.addEventListener("close", function () {
      var target = Accord.criteriaOf(form)[0];
      var current = form.querySelector(".criterion.is-active") || target;
      if (current) Accord.focusCriterion(current, { preventScroll: true });
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (document.querySelector("dialog[open]") || Accord.isTyping(document.activeElement)) return;
    if (event.key === "s" || event.key === "S") {
      event.preventDefault();
      openSkip();
    }
  });

  /* ---- the guidelines panel stays as the annotator left it, per project ---- */
  var guidelines = document.querySelector("details.guidelines");
  var guidelinesKey = "accord:guidelines:" + config.projectId;
  if (guidelines) {
    try {
      if (window.localStorage.getItem(guidelinesKey) === "closed") guidelines.open = false;
    } catch (e) {
      /* storage disabled */
    }
    guidelines.addEventListener("toggle", function () {
      try {
        window.localStorage.setItem(guidelinesKey, guidelines.open ? "open" : "closed");
      } catch (e) {
        /* storage disabled */
      }
    });
  }

  /* ---- first focus: the first criterion with an error, else the first unanswered one (an
     optional free-text one does not count), else the first ---- */
  var criteria = Accord.criteriaOf(form);
  var snap = Accord.formSnapshot(form);
  var first =
    form.querySelector("fieldset.criterion.has-error") ||
    criteria.filter(function (fs) {
      var optionalText = fs.dataset.kind === "text" && fs.hasAttribute("data-optional");
      return !optionalText && !Object.prototype.hasOwnProperty.call(snap.values, fs.dataset.key);
    })[0] ||
    criteria[0];
  if (first) Accord.focusCriterion(first, { preventScroll: true });
})();
