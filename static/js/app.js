// Behaviour that used to sit in inline attributes, moved here so the Content Security
// Policy can forbid inline script and style (docs/security.md).
(function () {
  "use strict";
  // Bars: <span data-width="42.50"> gets width 42.50%. Setting a CSSOM property from a
  // script file is allowed under style-src 'self'; a style="" attribute is not.
  function sizeBars(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      var pct = parseFloat(el.dataset.width);
      el.style.width = (isNaN(pct) ? 0 : Math.max(0, Math.min(100, pct))) + "%";
    });
  }
  // A "select all" checkbox: <input type="checkbox" data-select-all="ids"> toggles input[name=ids].
  document.addEventListener("click", function (event) {
    var box = event.target.closest && event.target.closest("input[data-select-all]");
    if (!box) return;
    document.querySelectorAll('input[name="' + box.dataset.selectAll + '"]').forEach(function (c) {
      c.checked = box.checked;
    });
  });
  // Enter in a text field submits its form as its FIRST button would: in the worklist's
  // bulk bar that is "Assign", not the "Mark resolved" the reason was typed for. A field
  // marked data-enter-clicks="<button id>" presses its own button instead.
  document.addEventListener("keydown", function (event) {
    var field = event.target.closest && event.target.closest("input[data-enter-clicks]");
    if (!field || event.key !== "Enter") return;
    var button = document.getElementById(field.dataset.enterClicks);
    if (!button) return;
    event.preventDefault();
    button.click();
  });
  // htmx swaps in fresh bars (batch progress polling): size them on every load.
  document.addEventListener("htmx:load", function (event) { sizeBars(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { sizeBars(document); });
  } else { sizeBars(document); }
})();
