// Keyboard shortcuts on question pages (listed in templates/attempts/_shortcuts.html).
// Off while the learner types in a text box, so letters and digits stay text there.
(function () {
  "use strict";

  function isTyping(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" ||
      (tag === "INPUT" && !/^(radio|checkbox|hidden|submit|button)$/.test(target.type));
  }

  function isOption(target) {
    return target.tagName === "INPUT" && /^(radio|checkbox)$/.test(target.type) &&
      target.form !== null && target.form.id === "answer-form";
  }

  // Looked up on each key press: the answer form is replaced after each practice answer.
  function chooseOption(index) {
    var input = document.querySelector('#answer-form input[data-key="' + index + '"]');
    if (!input) return false;
    if (input.type === "checkbox") input.checked = !input.checked; else input.checked = true;
    input.focus();
    return true;
  }

  // A link, or a button that submits its form (a test's "Save and next" saves the answer
  // on the way; "Show hint" asks the server for the next hint).
  function follow(shortcut) {
    var target = document.querySelector('[data-shortcut="' + shortcut + '"]');
    if (!target || (target.tagName !== "A" && target.tagName !== "BUTTON")) return false;
    target.click();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    var key = event.key.toLowerCase();
    var handled = false;
    if (/^[1-7]$/.test(key)) handled = chooseOption(Number(key));
    else if (/^[a-g]$/.test(key)) handled = chooseOption(key.charCodeAt(0) - 96);
    else if (key === "n") handled = follow("n");
    else if (key === "p") handled = follow("p");
    else if (key === "s") handled = follow("s");
    else if (key === "enter" && isOption(event.target)) {
      // A radio button or checkbox does not submit on Enter by itself. requestSubmit fires
      // the submit event, so htmx posts the answer in the background where it is set up.
      // (A button submits on Enter by itself, with its own name and value: a test's "Save
      // and next" must say where to go, so Enter on it is left to the browser.)
      event.target.form.requestSubmit();
      handled = true;
    }
    if (handled) event.preventDefault();
  });
})();
