// The htmx glue that attributes cannot say. What each form sends, where the result goes and
// which request wins is in the templates (hx-post/hx-get, hx-select, hx-target, hx-sync...).
// The server answers every request with the whole page, as it does without JavaScript, and
// hx-select takes the part to show; every page works without this file and without htmx.
(function () {
  "use strict";

  function formOf(detail) {
    var elt = detail.requestConfig && detail.requestConfig.elt;
    return elt && elt.tagName === "FORM" ? elt : null;
  }

  // A form's request is its own submit when it uses the form's method and address; otherwise
  // it is a preview (the lab's model size, a GET beside a form that posts).
  function ownSubmit(form) {
    return form.getAttribute("hx-" + form.method) === form.getAttribute("action");
  }

  // The server checks every field and says what is wrong next to it, as without JavaScript.
  // htmx would instead stop a live preview silently on the browser's own check (a number
  // over its max), leaving a stale result on screen.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.errors = [];
  });

  // aria-busy tells screen readers the result is being replaced (site.css dims it too). Not on
  // a form that replaces itself (a practice answer): focus is inside it.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = formOf(event.detail), target = event.detail.target;
    if (form && !target.contains(form)) target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    event.detail.target.removeAttribute("aria-busy");
  });

  // Before a swap, with the whole page in hand:
  // - a page without the target is an error page (an expired form's 403, a 413, a 500), not
  //   a result: the form's own submit shows it as without JavaScript (the server did nothing
  //   for a request it refused); a preview says so in its place instead;
  // - field problems (aria-invalid, aria-describedby, #<id>-problem) live next to fields
  //   outside the swapped part, so they are brought over from the fresh page.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail, form = formOf(detail), target = detail.target;
    if (!form || !target.id) return;
    var page = new DOMParser().parseFromString(detail.serverResponse, "text/html");
    if (!page.getElementById(target.id)) {
      detail.shouldSwap = false;
      if (ownSubmit(form)) { form.submit(); return; }
      var heading = page.querySelector("h1"), alert = page.querySelector('[role="alert"]');
      target.textContent = [heading, alert].filter(Boolean)
        .map(function (node) { return node.textContent.trim(); }).join(": ") ||
        "The server answered " + detail.xhr.status + ".";
      return;
    }
    if (!target.contains(form)) syncProblems(form, page);
  });

  function syncProblems(form, page) {
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.id) return;
      var twin = page.getElementById(field.id);
      if (!twin) return;
      ["aria-invalid", "aria-describedby"].forEach(function (name) {
        if (twin.hasAttribute(name)) field.setAttribute(name, twin.getAttribute(name));
        else field.removeAttribute(name);
      });
      var old = document.getElementById(field.id + "-problem");
      if (old) old.remove();
      var problem = page.getElementById(field.id + "-problem");
      if (problem) field.parentNode.appendChild(problem);
    });
  }

  // An inner out-of-band swap (hx-select-oob="#verdict:innerHTML", hx-swap-oob="innerHTML")
  // keeps the element itself, so a live region stays the same node and its new text is
  // announced. htmx leaves the element's class alone; the verdict box's class is its colour
  // (right or wrong), so take the fresh one.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var fresh = event.detail.fragment, target = event.detail.target;
    if (fresh instanceof Element && fresh.id === target.id) target.className = fresh.className;
  });

  // After a practice answer (the swap into section#question): focus the field that could not
  // be read, else the feedback, so a screen reader goes on from the verdict.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id !== "question") return;
    var invalid = document.querySelector(
      '#answer-form [aria-invalid="true"], #answer-form fieldset[aria-describedby]');
    var verdict = document.getElementById("verdict");
    if (invalid) invalid.focus();
    else if (verdict && verdict.textContent.trim()) document.getElementById("feedback").focus();
  });

  // After a hint is revealed (the swap into #hints): focus it, so it is read out next.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id !== "hints") return;
    var hints = event.target.querySelectorAll(".hint");
    if (hints.length) hints[hints.length - 1].focus();
  });

  // The request could not be sent (offline, the server restarting): submit as without
  // JavaScript, so the browser shows what happened. A preview has nothing to fall back to.
  document.addEventListener("htmx:sendError", function (event) {
    var form = formOf(event.detail);
    if (form && ownSubmit(form)) form.submit();
  });
})();
