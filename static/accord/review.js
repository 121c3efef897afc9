/* The review page, one item at a time, by keyboard: A accepts the majority, 1-9 take that rater's
   answer, E edits the adjudicated values (then rating-form.js's keys apply; Esc comes back),
   B sends the item back to its raters, N or → goes to the next item, ? lists the keys.
   Listens in the capture phase, so that outside the edit form a digit takes a rater's answer
   instead of picking a point of the form (rating-form.js). Settings: #review-config. */
(function () {
  "use strict";

  var configEl = document.getElementById("review-config");
  if (!configEl) return;
  var config = JSON.parse(configEl.textContent);
  var goldForm = document.getElementById("gold-form");
  var sendBack = document.getElementById("send-back-dialog");
  var shortcuts = document.getElementById("shortcuts");
  var Accord = window.Accord || {};

  // A refused decision is answered at the item's page: make that entry a plain GET for reloads.
  if (config.refused && window.history.replaceState) window.history.replaceState(null, "", window.location.href);

  function editing() {
    return goldForm && goldForm.contains(document.activeElement);
  }

  function edit() {
    var first = goldForm && (goldForm.querySelector("fieldset.criterion.has-error") || Accord.criteriaOf(goldForm)[0]);
    if (first) Accord.focusCriterion(first);
  }

  function leaveEdit() {
    document.activeElement.blur();
    var heading = document.querySelector(".page-head h1");
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }

  function submit(form) {
    if (!form || form.dataset.submitting) return;
    var button = form.querySelector("button[type=submit]");
    if (button && button.disabled) {
      button.focus(); // says why (its title): no majority
      return;
    }
    form.dataset.submitting = "1";
    form.requestSubmit();
  }

  function toggle(dialog) {
    if (!dialog) return;
    if (dialog.open) dialog.close();
    else {
      dialog.showModal();
      var input = dialog.querySelector("input[type=text]");
      if (input) input.focus();
    }
  }

  document.getElementById("edit-open").addEventListener("click", edit);
  document.getElementById("send-back-open").addEventListener("click", function () { toggle(sendBack); });
  document.getElementById("shortcuts-open").addEventListener("click", function () { toggle(shortcuts); });
  document.querySelectorAll("dialog [data-close]").forEach(function (button) {
    button.addEventListener("click", function () { button.closest("dialog").close(); });
  });

  document.addEventListener(
    "keydown",
    function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
      if (document.querySelector("dialog[open]")) return;
      var typing = Accord.isTyping && Accord.isTyping(document.activeElement);
      if (editing()) {
        // Esc on a choice (not in a text box, where it leaves the box) leaves the edit form.
        if (event.key === "Escape" && !typing) {
          event.preventDefault();
          leaveEdit();
        }
        return; // every other key is the rating form's
      }
      if (typing) return;
      var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      // Outside the edit form, the rating form's keys (digits, R, Enter) do nothing.
      if (key.length === 1 || key === "Enter") event.stopPropagation();
      if (/^[0-9]$/.test(key)) {
        event.preventDefault();
        submit(document.querySelector('form.take-form[data-key="' + key + '"]'));
      } else if (key === "a") {
        event.preventDefault();
        submit(document.getElementById("accept-majority"));
      } else if (key === "e") {
        event.preventDefault();
        edit();
      } else if (key === "b") {
        event.preventDefault();
        toggle(sendBack);
      } else if (key === "n" || key === "ArrowRight") {
        event.preventDefault();
        window.location.assign(config.nextUrl);
      } else if (key === "?") {
        event.preventDefault();
        toggle(shortcuts);
      } else if (key === "Enter" && !/^(A|BUTTON)$/.test(document.activeElement.tagName)) {
        event.preventDefault(); // outside the edit form Enter decides nothing (but a focused button's)
      }
    },
    true
  );

  // A page restored from the back/forward cache must be decidable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (form) { delete form.dataset.submitting; });
  });

  // First focus: the page itself (decide mode), or the first error of a refused edit.
  if (goldForm && goldForm.querySelector("fieldset.criterion.has-error")) edit();
  else leaveEdit();
})();
