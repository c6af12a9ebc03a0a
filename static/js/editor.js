// Code boxes (textarea[data-editor]): Python highlighting under the text, line numbers beside
// it, and the keys of an editor that never traps the keyboard. Tab moves on, as in any text
// box, until the learner edits (Enter, typing, pasting, or a click in the box); from then on
// Tab indents and Shift+Tab removes an indent, until Escape (or leaving the box) makes Tab move
// on again. Ctrl+Enter submits the box's form. The keys are said in visible text the box's
// aria-describedby names (#<id>-keys, rendered by templates/_editor_keys.html with words true
// without JavaScript, and rewritten here); each change of what Tab does is said in a polite
// live region beside it.
(function () {
  "use strict";

  var INDENT = "    ";
  var SAY_EDITING = "Editing: Tab indents. Press Escape, then Tab, to move on.";
  var SAY_MOVING = "Tab moves on to the next control again.";
  var statusOf = new WeakMap();  // box -> its live region

  function isEditor(target) {
    return target && target.matches && target.matches("textarea.editor-input");
  }

  function indenting(box) { return box.hasAttribute("data-tab-indents"); }

  // The learner's own change of mode is said in the live region; leaving the box (rest) ends
  // editing silently and hides what the region said. Hidden, not emptied: it keeps its place,
  // so that what lies below does not move between the press and the release of a click there
  // (a button that moved would never get the click).
  function setIndenting(box, on) {
    if (on === indenting(box)) return;
    if (on) box.setAttribute("data-tab-indents", ""); else box.removeAttribute("data-tab-indents");
    var status = statusOf.get(box);
    if (!status) return;
    status.textContent = on ? SAY_EDITING : SAY_MOVING;
    status.classList.remove("editor-mode-rest");
  }

  function rest(box) {
    box.removeAttribute("data-tab-indents");
    var status = statusOf.get(box);
    if (status) status.classList.add("editor-mode-rest");
  }

  // Replace value[start:end] with text as typing would (the browser's undo keeps it), then
  // select [selStart, selEnd].
  function replaceRange(box, start, end, text, selStart, selEnd) {
    box.setSelectionRange(start, end);
    var done = false;
    try {
      done = document.execCommand(text ? "insertText" : "delete", false, text);
    } catch (error) {
      done = false;
    }
    if (!done) {
      box.setRangeText(text, start, end);
      box.dispatchEvent(new Event("input", { bubbles: true }));  // keeps the highlighting in step
    }
    box.setSelectionRange(selStart, selEnd);
  }

  // The lines the selection touches: [from, to) of value, without the final line break; a
  // selection ending at the start of a line does not take that line.
  function linesOf(box) {
    var value = box.value, start = box.selectionStart, end = box.selectionEnd;
    if (end > start && value[end - 1] === "\n") end -= 1;
    var from = value.lastIndexOf("\n", start - 1) + 1;
    var to = value.indexOf("\n", end);
    return { from: from, to: to === -1 ? value.length : to };
  }

  function indent(box) {
    var value = box.value, start = box.selectionStart, end = box.selectionEnd;
    var lines = linesOf(box);
    if (value.slice(start, end).indexOf("\n") === -1) {
      // To the next multiple of four columns.
      var spaces = INDENT.slice((start - lines.from) % INDENT.length);
      replaceRange(box, start, end, spaces, start + spaces.length, start + spaces.length);
      return;
    }
    var block = value.slice(lines.from, lines.to).split("\n").map(function (line) {
      return line ? INDENT + line : line;
    }).join("\n");
    replaceRange(box, lines.from, lines.to, block, lines.from, lines.from + block.length);
  }

  function outdent(box) {
    var value = box.value, start = box.selectionStart, end = box.selectionEnd;
    var lines = linesOf(box), old = value.slice(lines.from, lines.to);
    var block = old.split("\n").map(function (line) {
      return line.replace(/^( {1,4}|\t)/, "");
    }).join("\n");
    if (block === old) return;
    if (old.indexOf("\n") !== -1) {
      replaceRange(box, lines.from, lines.to, block, lines.from, lines.from + block.length);
    } else {
      var removed = old.length - block.length;
      replaceRange(box, lines.from, lines.to, block,
        Math.max(lines.from, start - removed), Math.max(lines.from, end - removed));
    }
  }

  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!isEditor(box) || event.isComposing) return;
    var key = event.key;
    if (key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      box.form.requestSubmit();  // a submit event, so htmx sends it where the form is set up
    } else if (key === "Escape") {
      setIndenting(box, false);
    } else if (key === "Enter" && !event.altKey && !indenting(box)) {
      event.preventDefault();  // starts editing; the next Enter breaks the line
      setIndenting(box, true);
    } else if (key === "Tab" && !event.ctrlKey && !event.altKey && !event.metaKey && indenting(box)) {
      event.preventDefault();
      if (event.shiftKey) outdent(box); else indent(box);
    }
  }, true);

  // Any edit (typing, pasting, deleting) starts editing; so does a click or tap in the box.
  document.addEventListener("input", function (event) {
    if (isEditor(event.target)) setIndenting(event.target, true);
  }, true);
  document.addEventListener("pointerdown", function (event) {
    if (isEditor(event.target)) setIndenting(event.target, true);
  }, true);
  // Leaving the box for another part of the page ends editing, so that coming back with Tab
  // (or Shift+Tab) passes through again. Leaving the window (no relatedTarget, and the
  // document loses focus) does not: the learner comes back to the code as they left it.
  document.addEventListener("focusout", function (event) {
    var box = event.target;
    if (isEditor(box) && (event.relatedTarget || document.hasFocus())) rest(box);
  }, true);

  function keysText(box) {
    return "Tab moves on to the next control. Press Enter or start typing to edit the code; " +
      "then Tab indents and Shift+Tab removes an indent, until you press Escape. Ctrl+Enter " +
      (box.getAttribute("data-editor-submit") || "submits the form") + ".";
  }

  // The keys, in the paragraph the box's aria-describedby names (made if the page has none),
  // and an empty live region after it for the changes of what Tab does.
  function describeKeys(box, after) {
    var keys = document.getElementById(box.id + "-keys");
    if (!keys) {
      keys = document.createElement("p");
      keys.className = "hint-text editor-keys";
      keys.id = box.id + "-keys";
      after.parentNode.insertBefore(keys, after.nextSibling);
      var described = (box.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
      if (described.indexOf(keys.id) === -1) {
        box.setAttribute("aria-describedby", described.concat(keys.id).join(" "));
      }
    }
    keys.textContent = keysText(box);
    var status = document.createElement("p");
    status.className = "hint-text editor-mode";
    status.setAttribute("aria-live", "polite");
    keys.parentNode.insertBefore(status, keys.nextSibling);
    statusOf.set(box, status);
  }

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

  // "1\n2\n...\nn\n": the gutter's numbers, a line for each of the box's (a final newline, as
  // in the copy, keeps it as tall). wrap="off", so a line of code is one line on screen.
  function lineNumbers(count) {
    var numbers = "";
    for (var n = 1; n <= count; n += 1) numbers += n + "\n";
    return numbers;
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
      // Line numbers beside the code, since errors cite lines: drawn, not read (the error says
      // its line in words) and never focused.
      var gutter = document.createElement("pre");
      gutter.className = "editor-gutter";
      gutter.setAttribute("aria-hidden", "true");
      var numbers = document.createElement("code");  // as in the copy, so the lines match
      gutter.appendChild(numbers);
      var lines = 0;
      box.parentNode.insertBefore(wrap, box);
      wrap.appendChild(gutter);
      wrap.appendChild(copy);
      wrap.appendChild(box);
      box.classList.add("editor-input");
      box.setAttribute("wrap", "off");
      if (box.id) describeKeys(box, wrap);
      if (focused) box.focus();
      function sync() {
        code.innerHTML = highlightPython(box.value);
        var count = box.value.split("\n").length;
        if (count !== lines) numbers.textContent = lineNumbers(lines = count);
        copy.scrollTop = gutter.scrollTop = box.scrollTop;
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
