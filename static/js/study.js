// Flashcards (templates/study/flashcards.html): once htmx has shown a card's back in place of
// the "Show answer" button, which is gone, move focus to the back, so that keyboard and screen
// reader users go on from the answer to "Knew it" / "Not yet".
(function () {
  "use strict";

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id !== "card") return;
    var back = document.getElementById("card-back");
    if (back) back.focus();
  });
})();
