// Django admin's two-box selector (SelectFilter2.js, filter_horizontal) draws its search
// icon as a <span aria-label>: a label on an element with no role is ignored by screen
// readers (axe aria-prohibited-attr). The icon is an image with that name.
(function () {
  "use strict";
  function nameIcons(root) {
    root.querySelectorAll("span.search-label-icon[aria-label]:not([role])").forEach(
      function (icon) { icon.setAttribute("role", "img"); });
  }
  // The selector is built on window load, after this script runs: watch for it.
  new MutationObserver(function () { nameIcons(document); })
    .observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", function () { nameIcons(document); });
})();
