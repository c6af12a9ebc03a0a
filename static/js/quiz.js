// Progressive enhancement for quiz pages; every page works without this file.
// Adds keyboard shortcuts, a ticking test timer, and in-place practice feedback
// so the verdict is announced by the role="status" region.
(function () {
  "use strict";

  function isTyping(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" ||
      (tag === "INPUT" && !/^(radio|checkbox|hidden|submit|button)$/.test(target.type));
  }

  function chooseOption(index) {
    var input = document.querySelector('#answer-form input[data-key="' + index + '"]');
    if (!input) return false;
    if (input.type === "checkbox") input.checked = !input.checked; else input.checked = true;
    input.focus();
    return true;
  }

  function follow(shortcut) {
    var link = document.querySelector('[data-shortcut="' + shortcut + '"]');
    if (link && link.tagName === "A") { link.click(); return true; }
    return false;
  }

  function showNextHint() {
    var closed = document.querySelector("details.hint:not([open])");
    if (!closed) return false;
    closed.open = true;
    closed.querySelector("summary").focus();
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
    else if (key === "s") handled = showNextHint();
    else if (key === "enter" && event.target.form && event.target.form.id === "answer-form") {
      event.target.form.requestSubmit();
      handled = true;
    }
    if (handled) event.preventDefault();
  });

  var elapsed = document.getElementById("elapsed");
  if (elapsed) {
    var started = Date.now() - Number(elapsed.dataset.elapsed) * 1000;
    setInterval(function () {
      var seconds = Math.floor((Date.now() - started) / 1000);
      var rest = seconds % 60;
      elapsed.textContent = Math.floor(seconds / 60) + ":" + (rest < 10 ? "0" : "") + rest;
    }, 1000);
  }

  // Practice: post the answer in the background and swap in the new verdict and explanation.
  // Delegated, because the form itself is replaced after each answer.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches('form[data-enhance="practice"]') || !window.fetch) return;
    event.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (html) { show(response, html); });
      })
      .catch(function () { form.submit(); });
  });

  function show(response, html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    swap(page, "section.question");
    swap(page, "#explanation");
    var verdict = document.getElementById("verdict");
    var fresh = page.getElementById("verdict");
    if (verdict && fresh) {
      verdict.className = fresh.className;
      verdict.innerHTML = fresh.innerHTML;
    }
    if (response.redirected) history.replaceState(null, "", response.url.split("#")[0] + "#feedback");
    var invalid = document.querySelector('#answer-form [aria-invalid="true"], #answer-form fieldset[aria-describedby]');
    if (invalid) invalid.focus();
    else if (verdict && verdict.textContent.trim()) document.getElementById("feedback").focus();
  }

  // Code boxes: Tab indents instead of leaving the box (Escape, then Tab, leaves it);
  // Ctrl+Enter submits the box's form.
  var escaped = false;
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("textarea[data-editor]")) return;
    if (event.key === "Escape") { escaped = true; return; }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      box.form.requestSubmit();
    } else if (event.key === "Tab" && !event.shiftKey && !escaped) {
      event.preventDefault();
      box.setRangeText("    ", box.selectionStart, box.selectionEnd, "end");
    }
    if (event.key !== "Escape") escaped = false;
  }, true);

  // Run it: post the code to the JSON API and show what the sandbox reports.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches('form[data-enhance="run"]') || !window.fetch) return;
    event.preventDefault();
    var output = document.getElementById("run-output");
    output.textContent = "Running…";
    fetch(form.dataset.api, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: form.elements.code.value })
    }).then(function (response) {
      return response.json().then(function (body) { showRun(output, response, body); });
    }).catch(function () { form.submit(); });
  });

  function add(parent, tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    parent.appendChild(node);
    return node;
  }

  function showRun(output, response, run) {
    output.textContent = "";
    var box = add(output, "div", undefined, "run-result");
    if (!response.ok) {
      add(box, "p", "Could not run: " + (run.message || response.status));
      return;
    }
    var summary = add(box, "p", undefined, "run-summary");
    if (run.limit) add(summary, "strong", "Stopped: " + run.limit.message + ".");
    else if (run.exception) add(summary, "strong", "Raised " + run.exception.type +
      (run.exception.line ? " on line " + run.exception.line : "") + ".");
    else add(summary, "strong", "Ran to the end in " + Math.round(run.elapsed_ms) + " ms.");
    if (run.tensors.length) {
      var table = add(box, "table", undefined, "tensors");
      add(table, "caption", "Tensors left in variables");
      var head = add(add(table, "thead"), "tr");
      ["Name", "Shape", "dtype"].forEach(function (h) { add(head, "th", h).scope = "col"; });
      var body = add(table, "tbody");
      run.tensors.forEach(function (t) {
        var row = add(body, "tr");
        add(row, "th", t.name).scope = "row";
        add(row, "td", "(" + t.shape.join(", ") + (t.shape.length === 1 ? ",)" : ")"));
        add(row, "td", t.dtype);
      });
    }
    if (run.stdout) { add(box, "h4", "Output"); add(box, "pre", run.stdout, "output"); }
    if (run.exception) { add(box, "h4", "Error"); add(box, "pre", run.exception.traceback, "output"); }
    if (run.stderr) { add(box, "h4", "Errors and warnings printed"); add(box, "pre", run.stderr, "output"); }
  }

  function swap(page, selector) {
    var target = document.querySelector(selector);
    var fresh = page.querySelector(selector);
    if (target && fresh) target.innerHTML = fresh.innerHTML;
  }
})();
