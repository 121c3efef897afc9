/* Keyboard-first rating forms (annotate and review pages): every form.rating-form holding
   fieldset.criterion elements generated from a rubric version (templates/rubrics/criteria_form.html).

   1..9 (0 = 10th) pick the n-th point of the focused criterion and move on: to its rationale when
   one is required and still empty, else to the next criterion but optional free-text ones (after
   the last, to the submit button), so no Tab is needed per criterion. Tab / Shift+Tab move between criteria, R goes to
   the criterion's rationale, Esc leaves a text box, Enter submits (Ctrl/Cmd+Enter from a text box).
   Nothing fires while the focus is in a text box except Ctrl/Cmd+Enter, Esc and Tab.
   Exposes window.Accord.{isTyping, formSnapshot, formApply, focusCriterion, criteriaOf}. */
(function () {
  "use strict";

  var TYPING_INPUTS = { text: 1, search: 1, email: 1, url: 1, tel: 1, password: 1, number: 1 };

  function isTyping(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && TYPING_INPUTS[el.type] === 1;
  }

  function criteriaOf(form) {
    return Array.prototype.slice.call(form.querySelectorAll("fieldset.criterion"));
  }

  function primaryControl(fieldset) {
    return (
      fieldset.querySelector("input[type=radio]:checked:not([disabled])") ||
      fieldset.querySelector("input[type=radio]:not([disabled]), input[type=number], textarea[name^='value-']")
    );
  }

  function rationaleBox(fieldset) {
    return fieldset.querySelector("textarea[name^='rationale-']");
  }

  function focusCriterion(fieldset, options) {
    var control = primaryControl(fieldset);
    if (control) control.focus(options || {});
    else fieldset.focus(options || {});
    if (!options || !options.preventScroll) fieldset.scrollIntoView({ block: "nearest" });
  }

  function pick(fieldset, n) {
    var radios = fieldset.querySelectorAll("input[type=radio]");
    var radio = radios[n - 1];
    if (!radio || radio.disabled) return false;
    radio.checked = true;
    radio.focus();
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  // After a value is chosen: a required rationale still empty, else the next criterion (an
  // optional free-text one is passed over: Tab reaches it), else the submit button (Enter there
  // submits, as everywhere in the form).
  function advance(form, fieldset) {
    var box = rationaleBox(fieldset);
    if (box && !box.value.trim() && fieldset.querySelector(".rationale-required")) {
      box.focus();
      return;
    }
    var list = criteriaOf(form);
    var next = list.slice(list.indexOf(fieldset) + 1).filter(function (fs) {
      return !(fs.dataset.kind === "text" && fs.hasAttribute("data-optional"));
    })[0];
    if (next) focusCriterion(next);
    else {
      var button = form.querySelector("button[type=submit]");
      if (button) button.focus();
    }
  }

  function formOf(el) {
    var form = el && el.closest ? el.closest("form.rating-form") : null;
    if (form) return form;
    var all = document.querySelectorAll("form.rating-form");
    return all.length === 1 ? all[0] : null; // several forms (review): only the focused one
  }

  var active = new WeakMap();

  function markActive(form, fieldset) {
    active.set(form, fieldset);
    criteriaOf(form).forEach(function (fs) {
      fs.classList.toggle("is-active", fs === fieldset);
    });
  }

  function submit(form) {
    if (form.dataset.submitting) return;
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.submit();
  }

  // Values as the API stores them: booleans, numbers, strings; text kinds stay text.
  function parseValue(kind, raw) {
    if (raw === null || raw === undefined) return null;
    if (kind === "text") return raw === "" ? null : raw;
    raw = String(raw).trim();
    if (raw === "") return null;
    if (kind === "binary") return raw === "true" ? true : raw === "false" ? false : raw;
    if (kind === "categorical") return raw;
    var n = Number(raw);
    return Number.isFinite(n) ? n : raw;
  }

  function formValue(value) {
    if (value === true) return "true";
    if (value === false) return "false";
    if (value === null || value === undefined) return "";
    return String(value);
  }

  function formSnapshot(form) {
    var data = new FormData(form);
    var values = {};
    var rationales = {};
    criteriaOf(form).forEach(function (fs) {
      var key = fs.dataset.key;
      var value = parseValue(fs.dataset.kind, data.get("value-" + key));
      if (value !== null) values[key] = value;
      var rationale = data.get("rationale-" + key);
      if (rationale) rationales[key] = rationale;
    });
    return { values: values, rationales: rationales };
  }

  function formApply(form, values, rationales) {
    values = values || {};
    rationales = rationales || {};
    criteriaOf(form).forEach(function (fs) {
      var key = fs.dataset.key;
      if (Object.prototype.hasOwnProperty.call(values, key)) {
        var wanted = formValue(values[key]);
        var radios = fs.querySelectorAll("input[type=radio]");
        if (radios.length) {
          radios.forEach(function (r) {
            r.checked = r.value === wanted;
          });
        } else {
          var control = fs.querySelector("[name='value-" + key + "']");
          if (control) control.value = wanted;
        }
      }
      var box = rationaleBox(fs);
      if (box && Object.prototype.hasOwnProperty.call(rationales, key)) box.value = rationales[key];
    });
  }

  function openDialog() {
    return document.querySelector("dialog[open]");
  }

  document.addEventListener("focusin", function (event) {
    var fieldset = event.target.closest ? event.target.closest("fieldset.criterion") : null;
    var form = fieldset ? fieldset.closest("form.rating-form") : null;
    if (form) markActive(form, fieldset);
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || openDialog() || event.isComposing) return;
    var el = document.activeElement;
    var form = formOf(el);
    if (!form) return;

    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit(form);
      return;
    }
    var fieldset = el && el.closest ? el.closest("fieldset.criterion") : null;
    if (fieldset && fieldset.closest("form.rating-form") !== form) fieldset = null;

    if (event.key === "Escape" && fieldset && isTyping(el)) {
      event.preventDefault();
      if (el === primaryControl(fieldset)) fieldset.focus();
      else focusCriterion(fieldset);
      return;
    }
    if (event.key === "Tab" && !event.altKey && !event.ctrlKey && !event.metaKey && fieldset) {
      // From a criterion's value control (or the criterion itself), Tab moves to the next
      // criterion; inside a rationale, Tab follows the page (on to the next criterion).
      if (el.tagName === "TEXTAREA" && !event.shiftKey) return;
      if (el.tagName === "TEXTAREA" && el !== primaryControl(fieldset)) return;
      var list = criteriaOf(form);
      var next = list[list.indexOf(fieldset) + (event.shiftKey ? -1 : 1)];
      if (next) {
        event.preventDefault();
        focusCriterion(next);
      }
      return;
    }
    if (isTyping(el)) {
      if (event.key === "Enter" && el.tagName === "INPUT" && !event.shiftKey) {
        event.preventDefault(); // a number box: Enter submits, as on a radio
        submit(form);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Enter" && !event.shiftKey && el.tagName !== "A" && el.tagName !== "BUTTON") {
      event.preventDefault();
      submit(form);
      return;
    }
    var target = fieldset || active.get(form) || criteriaOf(form)[0];
    if (!target) return;
    if (/^[0-9]$/.test(event.key)) {
      var n = event.key === "0" ? 10 : Number(event.key);
      if (pick(target, n)) {
        event.preventDefault();
        advance(form, target);
      }
      return;
    }
    if ((event.key === "r" || event.key === "R") && target) {
      var rationale = rationaleBox(target);
      if (rationale && !rationale.disabled) {
        event.preventDefault();
        rationale.focus();
      }
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("rating-form")) return;
    if (form.dataset.submitting) {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    var button = form.querySelector("button[type=submit]");
    if (button) button.classList.add("is-busy");
  });

  // A page restored from the back/forward cache must be submittable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form.rating-form").forEach(function (form) {
      delete form.dataset.submitting;
    });
  });

  document.querySelectorAll("form.rating-form fieldset.criterion").forEach(function (fs) {
    fs.tabIndex = -1; // focusable by script (Esc from a text criterion), not by Tab
  });

  window.Accord = window.Accord || {};
  window.Accord.isTyping = isTyping;
  window.Accord.formSnapshot = formSnapshot;
  window.Accord.formApply = formApply;
  window.Accord.focusCriterion = focusCriterion;
  window.Accord.criteriaOf = criteriaOf;
})();
