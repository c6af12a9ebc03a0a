// Hints shown one at a time ([data-one-at-a-time]): each appears once the one before it has
// been opened. Without JavaScript every hint is there, closed.
(function () {
  "use strict";
  document.querySelectorAll("[data-one-at-a-time]").forEach(function (box) {
    var hints = box.querySelectorAll("details");
    hints.forEach(function (hint, i) {
      if (i > 0 && !hints[i - 1].open) hint.hidden = true;
      hint.addEventListener("toggle", function () {
        if (hint.open && hints[i + 1]) hints[i + 1].hidden = false;
      });
    });
  });
})();
