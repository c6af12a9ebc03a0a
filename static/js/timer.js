// A test's elapsed time (and time left, under a time limit), ticking. The server renders the time at page load; this only keeps
// it moving, counted from the page's own clock so a slow tab does not drift.
(function () {
  "use strict";
  var elapsed = document.getElementById("elapsed");
  if (!elapsed) return;
  var left = document.getElementById("time-left");
  var started = Date.now() - Number(elapsed.dataset.elapsed) * 1000;
  // The deadline is the server's: this only shows it. Past it, the server refuses answers.
  var ends = left ? Date.now() + Number(left.dataset.left) * 1000 : null;
  function clock(seconds) {
    var rest = seconds % 60;
    return Math.floor(seconds / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }
  setInterval(function () {
    elapsed.textContent = clock(Math.floor((Date.now() - started) / 1000));
    if (left) left.textContent = clock(Math.max(0, Math.floor((ends - Date.now()) / 1000)));
  }, 1000);
})();
