// The project switcher (templates/includes/project_nav.html) is a <details> disclosure, usable
// without script; this only closes it on Escape (focus back on its summary) and on a click
// elsewhere, as a menu would.
(function () {
  "use strict";
  const switcher = document.querySelector("details.switcher");
  if (!switcher) return;
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && switcher.open) {
      switcher.open = false;
      switcher.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", function (e) {
    if (switcher.open && !switcher.contains(e.target)) switcher.open = false;
  });
})();
