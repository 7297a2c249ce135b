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
  // A screen reader announces what changes INSIDE a live region that stays in the page. A
  // poll swaps its region out whole (hx-swap="outerHTML", revcycle/polling.py), and a region
  // put in the old one's place is a new region, whose content is never announced. So each
  // region the server marks aria-live is moved into a wrapper that no swap replaces; the
  // wrapper is the live region, and the regions swapped in inside it drop the attribute.
  function keepLiveRegions(root) {
    var regions = Array.prototype.slice.call(root.querySelectorAll("[aria-live]"));
    if (root.matches && root.matches("[aria-live]")) regions.push(root);
    regions.forEach(function (region) {
      if (region.hasAttribute("data-live")) return;  // a wrapper already
      var wrapper = region.parentElement;
      if (!wrapper) return;
      if (!wrapper.hasAttribute("data-live")) {
        wrapper = document.createElement("div");
        wrapper.setAttribute("data-live", "");
        wrapper.setAttribute("aria-live", region.getAttribute("aria-live"));
        region.parentNode.insertBefore(wrapper, region);
        wrapper.appendChild(region);
      }
      region.removeAttribute("aria-live");
    });
  }
  function prepare(root) { sizeBars(root); keepLiveRegions(root); }
  // htmx swaps in fresh bars (batch progress polling) and fresh regions: prepare each, and
  // again once htmx has settled (settling puts the new fragment's attributes back).
  document.addEventListener("htmx:load", function (event) { prepare(event.target); });
  document.addEventListener("htmx:afterSettle", function () { keepLiveRegions(document); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { prepare(document); });
  } else { prepare(document); }
})();
