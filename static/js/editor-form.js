// The question editor (templates/authoring/editor.html): the preview refreshes ~300 ms after
// an edit, and the Form and Source (YAML) tabs convert into each other on switching. Both ask
// the server for the editor page and take their part out of it, so the page has one renderer.
// Without JavaScript the Preview and "Use this YAML" buttons do the same by posting the form.
(function () {
  "use strict";
  var form = document.getElementById("editor");
  if (!form) return;
  var DELAY = 300;
  var timer = null;
  var inFlight = null;

  function post(url, extra) {
    var data = new FormData(form);
    Object.keys(extra || {}).forEach(function (k) { data.set(k, extra[k]); });
    return fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (answer) { return answer.text(); })
      .then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  }

  function take(page, id) {
    var fresh = page.getElementById(id), here = document.getElementById(id);
    if (fresh && here) here.innerHTML = fresh.innerHTML;
  }

  function refresh() {
    if (inFlight) inFlight.abort = true;
    var mine = { abort: false };
    inFlight = mine;
    post(form.dataset.previewUrl).then(function (page) {
      if (mine.abort) return;
      take(page, "preview");
      take(page, "problem-summary");
      document.dispatchEvent(new CustomEvent("editor:previewed"));
    });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, DELAY);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  document.querySelectorAll("[data-preview-control]").forEach(function (control) {
    control.addEventListener("input", later);
    control.addEventListener("change", later);
    control.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); refresh(); }  // not the form's Save
    });
  });
  var newSeed = document.querySelector("[data-new-seed]");
  if (newSeed) newSeed.addEventListener("click", function (event) {
    event.preventDefault();
    document.getElementById("preview-seed").value = String(Math.floor(Math.random() * 10000));
    refresh();
  });

  // Tabs: one panel at a time, each filled from the other on switching.
  var tabs = form.querySelector("[data-tabs]");
  if (!tabs) return;
  tabs.hidden = false;
  tabs.setAttribute("role", "tablist");
  tabs.setAttribute("aria-label", "Edit as");
  var buttons = Array.prototype.slice.call(tabs.querySelectorAll("[role=tab]"));
  var headings = form.querySelectorAll(".editor-panel > h2");
  headings.forEach(function (h) { h.classList.add("visually-hidden"); });

  function show(tab) {
    buttons.forEach(function (b) {
      var on = b === tab;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
      var panel = document.getElementById(b.getAttribute("aria-controls"));
      panel.hidden = !on;
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", b.id);
    });
  }

  function choose(tab) {
    if (tab.getAttribute("aria-selected") === "true") return;
    var toYaml = tab.id === "tab-source";
    post(form.dataset.convertUrl, { to: toYaml ? "yaml" : "form" }).then(function (page) {
      take(page, toYaml ? "source-panel" : "form-panel");
      if (!toYaml) take(page, "source-panel");  // the source the form now holds, as the base
      take(page, "problem-summary");
      form.querySelectorAll(".editor-panel > h2").forEach(function (h) { h.classList.add("visually-hidden"); });
      show(tab);
      tab.focus();
      refresh();
    });
  }

  buttons.forEach(function (b, i) {
    b.addEventListener("click", function () { choose(b); });
    b.addEventListener("keydown", function (event) {
      var step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
      if (step) { event.preventDefault(); choose(buttons[(i + step + buttons.length) % buttons.length]); }
    });
  });
  show(buttons[0]);
  refresh();
})();
