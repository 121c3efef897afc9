// The judges page's Run form: its estimates (the items selector's options) are at the live price;
// with the mode set to "batch" they show the batch price the run would be charged instead.
(function () {
  "use strict";
  document.querySelectorAll("form.run-form").forEach(function (form) {
    const mode = form.querySelector('[data-role="run-mode"]');
    if (!mode) return;
    function show() {
      form.querySelectorAll('[data-role="run-items"] option[data-live]').forEach(function (option) {
        option.textContent = mode.value === "batch" ? option.dataset.batch : option.dataset.live;
      });
    }
    mode.addEventListener("change", show);
    show(); // a form restored by the browser's back button keeps its mode
  });
})();
