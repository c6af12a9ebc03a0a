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
    swap(page, "#after-answer");
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
      box.dispatchEvent(new Event("input", { bubbles: true }));  // keeps the highlighting in step
    }
    if (event.key !== "Escape") escaped = false;
  }, true);

  // Code boxes get Python highlighting: the textarea stays the real, labelled control (its
  // text drawn transparent, caret visible) over a highlighted copy hidden from screen readers.
  // Token classes are Pygments' own, so code.css colours them as in the rendered questions.
  var KEYWORDS = /^(as|assert|async|await|break|class|continue|def|del|elif|else|except|finally|for|from|global|if|import|lambda|nonlocal|pass|raise|return|try|while|with|yield)$/;
  var WORD_OPERATORS = /^(and|or|not|in|is)$/;
  var CONSTANTS = /^(True|False|None)$/;
  var BUILTINS = /^(abs|all|any|bool|dict|enumerate|float|getattr|hasattr|int|isinstance|len|list|map|max|min|print|range|reversed|round|set|sorted|str|sum|super|tuple|type|zip|self)$/;
  var TOKEN = /(#[^\n]*)|([rbfRBF]{0,2}(?:"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?))|(@[A-Za-z_][\w.]*)|(\b\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?j?\b)|([A-Za-z_]\w*)/g;

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function span(cls, text) { return '<span class="' + cls + '">' + escapeHtml(text) + "</span>"; }

  function wordClass(word, previous) {
    if (KEYWORDS.test(word)) return "k";
    if (WORD_OPERATORS.test(word)) return "ow";
    if (CONSTANTS.test(word)) return "kc";
    if (previous === "def") return "nf";
    if (previous === "class") return "nc";
    if (BUILTINS.test(word)) return "nb";
    return "";
  }

  function highlightPython(code) {
    var html = "", last = 0, previous = "", match, cls;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(code)) !== null) {
      html += escapeHtml(code.slice(last, match.index));
      if (match[1]) html += span("c1", match[1]);
      else if (match[2]) html += span("s2", match[2]);
      else if (match[3]) html += span("nd", match[3]);
      else if (match[4]) html += span("mi", match[4]);
      else html += (cls = wordClass(match[5], previous)) ? span(cls, match[5]) : escapeHtml(match[5]);
      previous = match[5] || "";
      last = TOKEN.lastIndex;
    }
    // A final newline keeps the copy as tall as the textarea's last, empty line.
    return html + escapeHtml(code.slice(last)) + "\n";
  }

  function enhanceEditors(root) {
    root.querySelectorAll("textarea[data-editor]:not(.editor-input)").forEach(function (box) {
      var wrap = document.createElement("div");
      wrap.className = "editor";
      var copy = document.createElement("pre");
      copy.className = "editor-copy highlight";
      copy.setAttribute("aria-hidden", "true");
      var code = document.createElement("code");
      copy.appendChild(code);
      box.parentNode.insertBefore(wrap, box);
      wrap.appendChild(copy);
      wrap.appendChild(box);
      box.classList.add("editor-input");
      box.setAttribute("wrap", "off");
      function sync() {
        code.innerHTML = highlightPython(box.value);
        copy.scrollTop = box.scrollTop;
        copy.scrollLeft = box.scrollLeft;
      }
      box.addEventListener("input", sync);
      box.addEventListener("scroll", sync);
      sync();
    });
  }
  enhanceEditors(document);
  // Run panels and code answers also arrive in swapped-in fragments.
  new MutationObserver(function () { enhanceEditors(document); })
    .observe(document.body, { childList: true, subtree: true });

  // A lab run that is still training follows its server-sent events. Each carries the run's
  // live section as the server renders it; the status line stays the same element, so the
  // change is announced, and the rest is swapped in whole.
  var live = document.querySelector("[data-live-events]");
  if (live && window.EventSource) {
    var source = new EventSource(live.dataset.liveEvents);
    source.addEventListener("run", function (event) {
      var fresh = document.createElement("div");
      fresh.innerHTML = event.data;
      var status = live.querySelector("#run-status");
      var update = fresh.querySelector("#run-status");
      if (status && update) {
        status.textContent = update.textContent;
        update.replaceWith(status);
      }
      live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes));
    });
    source.addEventListener("end", function () {
      source.close();
      var cancel = document.querySelector(".cancel-form");
      if (cancel) cancel.remove();
    });
  }

  // Hints shown one at a time: each appears once the one before it has been opened.
  document.querySelectorAll("[data-one-at-a-time]").forEach(function (box) {
    var hints = box.querySelectorAll("details");
    hints.forEach(function (hint, i) {
      if (i > 0 && !hints[i - 1].open) hint.hidden = true;
      hint.addEventListener("toggle", function () {
        if (hint.open && hints[i + 1]) hints[i + 1].hidden = false;
      });
    });
  });

  // Forms marked data-enhance="swap" show their result in place: the server renders the page
  // as without JavaScript, and the element named by data-target is taken from it. Forms that
  // are also data-live refresh while the learner edits. A failed fetch falls back to a submit.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches('form[data-enhance="swap"]') || !window.fetch) return;
    event.preventDefault();
    load(form);
  });

  var timers = new WeakMap();
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (!form || !form.matches("form[data-live]") || !window.fetch) return;
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(function () { load(form, true); }, 300));
  });

  var latest = new WeakMap();
  // A live form previews with a GET to data-live-action into data-live-target when it names
  // them (a form that posts, such as one that starts a training run); else it loads itself.
  function load(form, live) {
    var preview = live ? form.dataset.liveAction : null;
    var selector = preview ? form.dataset.liveTarget : form.dataset.target;
    var target = document.querySelector(selector);
    var get = Boolean(preview) || form.method.toLowerCase() === "get";
    var body = new URLSearchParams(new FormData(form));
    if (get) body.delete("csrf_token");  // never in an address
    var url = get ? (preview || form.action) + "?" + body : form.action;
    var init = get ? { credentials: "same-origin" } :
      { method: "POST", body: body, credentials: "same-origin" };
    var ticket = (latest.get(form) || 0) + 1;
    latest.set(form, ticket);
    target.setAttribute("aria-busy", "true");
    fetch(url, init).then(function (response) {
      return response.text().then(function (html) {
        if (latest.get(form) !== ticket) return;  // a newer request is on its way
        target.removeAttribute("aria-busy");
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelector(selector);
        if (fresh) target.innerHTML = fresh.innerHTML;
        else target.textContent = "Could not run: " + textOf(page, '[role="alert"]', response.status);
        syncProblems(form, page);
        if (get && !preview) history.replaceState(null, "", url);
      });
    }).catch(function () { if (!preview) form.submit(); });
  }

  function textOf(page, selector, fallback) {
    var node = page.querySelector(selector);
    return node ? node.textContent.trim() : String(fallback);
  }

  // Field problems live next to their fields; bring them over from the fresh page.
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

  function swap(page, selector) {
    var target = document.querySelector(selector);
    var fresh = page.querySelector(selector);
    if (target && fresh) target.innerHTML = fresh.innerHTML;
  }
})();
