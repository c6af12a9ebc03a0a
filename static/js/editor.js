// Code boxes (textarea[data-editor]): Tab indents instead of leaving the box (Escape, then Tab,
// leaves it); Ctrl+Enter submits the box's form; Python highlighting under the text.
(function () {
  "use strict";

  var escaped = false;
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("textarea[data-editor]")) return;
    if (event.key === "Escape") { escaped = true; return; }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      box.form.requestSubmit();  // a submit event, so htmx sends it where the form is set up
    } else if (event.key === "Tab" && !event.shiftKey && !escaped) {
      event.preventDefault();
      box.setRangeText("    ", box.selectionStart, box.selectionEnd, "end");
      box.dispatchEvent(new Event("input", { bubbles: true }));  // keeps the highlighting in step
    }
    if (event.key !== "Escape") escaped = false;
  }, true);

  // The textarea stays the real, labelled control (its text drawn transparent, caret visible)
  // over a highlighted copy hidden from screen readers. Token classes are Pygments' own, so
  // code.css colours them as in the rendered questions.
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
    if (!root.querySelectorAll) return;
    root.querySelectorAll("textarea[data-editor]:not(.editor-input)").forEach(function (box) {
      // Moving a focused box into its wrapper blurs it; htmx may just have focused it again
      // after a swap (same id), and the learner is typing there.
      var focused = document.activeElement === box;
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
      if (focused) box.focus();
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
  // Run panels and code answers also arrive in content htmx swaps in; htmx:load fires on each
  // piece of it (out-of-band parts included), so no MutationObserver is needed.
  document.addEventListener("htmx:load", function (event) { enhanceEditors(event.target); });
})();
