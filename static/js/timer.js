// A test's elapsed time, ticking. The server renders the time at page load; this only keeps
// it moving, counted from the page's own clock so a slow tab does not drift.
(function () {
  "use strict";
  var elapsed = document.getElementById("elapsed");
  if (!elapsed) return;
  var started = Date.now() - Number(elapsed.dataset.elapsed) * 1000;
  setInterval(function () {
    var seconds = Math.floor((Date.now() - started) / 1000);
    var rest = seconds % 60;
    elapsed.textContent = Math.floor(seconds / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }, 1000);
})();
