"""The keyboard alone: code boxes that never trap Tab, and a whole visit without a mouse.

A code box (static/js/editor.js) lets Tab move on, as any text box does, until the learner
edits: Enter or typing starts editing, and Tab then indents (Shift+Tab removes an indent) until
Escape, after which Tab moves on again. The box's aria-describedby names the text saying so.

The keyboard-only visit uses page.keyboard only (Tab, Shift+Tab, Enter, Space, arrow keys, the
site's shortcuts, typing, and Ctrl+Enter in a code box): no clicks and no element.focus().
Every page it visits, and every update in place worth seeing, is checked with axe.
"""

from __future__ import annotations

import re

import pytest
from browser_support import (
    Browsing,
    CheckedPage,
    open_practice,
    question_kind,
)
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

KEYS_WITH_JS = re.compile(
    r"^Tab moves on to the next control\. Press Enter or start typing to edit the code; then "
    r"Tab indents and Shift\+Tab removes an indent, until you press Escape\. Ctrl\+Enter \w"
)
KEYS_WITHOUT_JS = "Indent with spaces: Tab moves on to the next control."
SAY_EDITING = "Editing: Tab indents. Press Escape, then Tab, to move on."
SAY_MOVING = "Tab moves on to the next control again."

# What document.activeElement is, for assertions and failure messages.
_FOCUSED = """(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return 'body';
  const text = (e.getAttribute('aria-label') || e.textContent || '').trim().replace(/\\s+/g, ' ');
  return e.id ? '#' + e.id : e.tagName.toLowerCase() + ': ' + text.slice(0, 60);
})()"""


def focused(page: Page) -> str:
    return str(page.evaluate(_FOCUSED))


def tab_to(page: Page, selector: str, *, back: bool = False, limit: int = 80) -> None:
    """Press Tab (Shift+Tab if `back`) until the focused element matches `selector`."""
    passed = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
        passed.append(focused(page))
    pytest.fail(f"{limit} presses of Tab never reached {selector}; focus went {passed}")


def description(page: Page, box: Locator) -> str:
    """The text of the elements the box's aria-describedby names, joined by spaces."""
    return str(
        page.evaluate(
            """box => (box.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)
             .map(id => document.getElementById(id)?.textContent.trim() || '').join(' ')""",
            box.element_handle(),
        )
    )


def mode_status(page: Page, box: Locator) -> Locator:
    """The live region beside a code box that says when Tab starts or stops indenting."""
    box_id = box.get_attribute("id")
    return page.locator(f"#{box_id}-keys + p.editor-mode")


# --- the code box's keys ---


def test_tab_passes_through_a_code_box_until_the_learner_edits(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    open_practice(cp, difficulty="medium", tag="shapes", kind="code")
    box = page.get_by_label("Your code")
    check = page.get_by_role("button", name="Run", exact=True)  # the next control after the box
    starter = box.input_value()
    assert starter.strip(), "the code question should have starter code"

    # The keys are said in visible text tied to the box; the live region starts empty.
    keys = page.locator("#answer-input-keys")
    expect(keys).to_be_visible()
    expect(keys).to_have_text(KEYS_WITH_JS)
    expect(keys).to_contain_text("Ctrl+Enter submits your answer.")
    said = description(page, box)
    assert "Hidden tests run your code" in said and keys.inner_text() in said, said
    status = mode_status(page, box)
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_be_empty()

    # Tab from the page into the box and out again: focus moves, the code stays as it was.
    tab_to(page, "#answer-input")
    page.keyboard.press("Tab")
    expect(check).to_be_focused()
    expect(box).to_have_value(starter)
    page.keyboard.press("Shift+Tab")
    expect(box).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(box).not_to_be_focused()
    expect(box).to_have_value(starter)
    expect(status).to_be_empty()
    cp.check("Tab passed through the code box")

    # Enter starts editing without breaking the line; Tab then indents, Shift+Tab takes it back.
    page.keyboard.press("Tab")
    expect(box).to_be_focused()
    page.keyboard.press("Enter")
    expect(box).to_have_value(starter)
    expect(status).to_have_text(SAY_EDITING)
    caret = box.evaluate("b => b.selectionStart")
    page.keyboard.press("Tab")
    expect(box).to_be_focused()
    expect(box).to_have_value(starter[:caret] + "    " + starter[caret:])
    page.keyboard.press("Shift+Tab")
    expect(box).to_be_focused()
    expect(box).to_have_value(starter)
    cp.check("editing the code")

    # Escape: Tab moves on again, and leaves the code alone.
    page.keyboard.press("Escape")
    expect(status).to_have_text(SAY_MOVING)
    page.keyboard.press("Tab")
    expect(check).to_be_focused()
    expect(box).to_have_value(starter)

    # Typing starts editing too (Tab then indents to the next multiple of four columns);
    # leaving the box ends it silently: the live region is hidden, not emptied, so that nothing
    # below it moves under a click (test_running's click on Run fails if it does).
    page.keyboard.press("Shift+Tab")
    expect(box).to_be_focused()
    caret = box.evaluate("b => b.selectionStart")
    page.keyboard.type("x = 1")
    expect(status).to_have_text(SAY_EDITING)
    page.keyboard.press("Tab")
    expect(box).to_be_focused()
    column = caret - (starter.rfind("\n", 0, caret) + 1) + len("x = 1")
    edited = starter[:caret] + "x = 1" + " " * (4 - column % 4) + starter[caret:]
    expect(box).to_have_value(edited)
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(check).to_be_focused()
    expect(status).to_be_hidden()
    page.keyboard.press("Shift+Tab")
    expect(box).to_be_focused()
    page.keyboard.press("Tab")
    expect(check).to_be_focused()
    expect(box).to_have_value(edited)

    # Several lines selected: Tab indents each, Shift+Tab takes the indent back off each.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+a")
    page.keyboard.press("Tab")
    indented = box.input_value()
    for line in indented.splitlines():
        assert not line or line.startswith("    "), indented
    page.keyboard.press("Shift+Tab")
    expect(box).to_have_value(edited)
    expect(box).to_be_focused()

    # A click in the box is editing too: a mouse user's Tab indents, as before. A click on the
    # button below then reaches it: leaving the box moves nothing under the pointer.
    page.keyboard.press("Escape")
    box.click()
    page.keyboard.press("Tab")
    expect(box).to_be_focused()
    assert len(box.input_value()) > len(edited)
    expect(status).to_have_text(SAY_EDITING)
    with page.expect_request(lambda request: request.method == "POST"):
        check.click()


def test_the_keys_of_each_code_box_are_said_with_and_without_javascript(
    browsing: Browsing,
) -> None:
    """The lab's code box works as the answer's; without JavaScript it is a plain textarea and
    its text says only what holds there."""
    cp = browsing.new_page()
    page = cp.page
    cp.goto("/topics/birnn/lab")
    box = page.get_by_label("Your model (Python)")
    starter = box.input_value()
    expect(page.locator("#code-keys")).to_have_text(KEYS_WITH_JS)
    expect(page.locator("#code-keys")).to_contain_text("Ctrl+Enter trains your model.")
    assert description(page, box) == page.locator("#code-keys").inner_text()
    tab_to(page, "#code", limit=150)
    page.keyboard.press("Tab")
    expect(page.locator("#code_seed")).to_be_focused()
    expect(box).to_have_value(starter)
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(box).to_be_focused()
    expect(box).not_to_have_value(starter)
    page.keyboard.press("Shift+Tab")
    expect(box).to_have_value(starter)
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(page.locator("#code_seed")).to_be_focused()

    plain = browsing.new_page(java_script_enabled=False)
    page = plain.page
    plain.goto("/topics/birnn/lab")
    box = page.get_by_label("Your model (Python)")
    expect(page.locator("#code-keys")).to_have_text(KEYS_WITHOUT_JS)
    assert description(page, box) == KEYS_WITHOUT_JS
    expect(page.locator("p.editor-mode")).to_have_count(0)
    tab_to(page, "#code", limit=150)
    page.keyboard.press("Tab")
    expect(page.locator("#code_seed")).to_be_focused()
    expect(box).to_have_value(starter)


# --- a whole visit without a mouse ---


def follow(cp: CheckedPage, selector: str, *, back: bool = False) -> None:
    """Tab (Shift+Tab if `back`) to a link or button and press Enter; it loads a page."""
    tab_to(cp.page, selector, back=back)
    with cp.navigation():
        cp.page.keyboard.press("Enter")


def answer_by_keyboard(page: Page) -> str:
    """Tab to the answer and give one (Space on an option, or typing); returns the kind."""
    kind = str(question_kind(page))
    box = page.locator("#answer-form [name=answer]:not([type=hidden])").first
    tab_to(page, "#answer-form [name=answer]:not([type=hidden])")
    if kind in ("single_choice", "multiple_select"):
        first = focused(page)
        page.keyboard.press("Space")
        expect(page.locator(first)).to_be_checked()
        if kind == "single_choice":  # arrow keys move the choice within the group
            page.keyboard.press("ArrowDown")
            expect(page.locator(first)).not_to_be_checked()
            expect(page.locator(focused(page))).to_be_checked()
            page.keyboard.press("ArrowUp")
            expect(page.locator(first)).to_be_checked()
    elif kind == "code":
        before = box.input_value()
        page.keyboard.press("Tab")  # passes through the box: the code is left alone
        expect(box).not_to_be_focused()
        expect(box).to_have_value(before)
        page.keyboard.press("Shift+Tab")
        expect(box).to_be_focused()
        page.keyboard.press("Control+a")
        page.keyboard.type("def f(x):\n")
        page.keyboard.press("Tab")  # typing started editing: Tab indents
        page.keyboard.type("return x\n")
        expect(box).to_have_value("def f(x):\n    return x\n")
        page.keyboard.press("Escape")  # Tab moves on again
    else:
        page.keyboard.type({"numeric": "1", "tensor_shape": "(1, 2)"}.get(kind, "x"))
    return kind


def test_practice_run_and_test_with_the_keyboard_alone(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    cp.goto("/topics/birnn/practice")

    # Choose the filters (type-ahead in each list) and start practice.
    tab_to(page, "#difficulty")
    page.keyboard.type("e")
    expect(page.locator("#difficulty")).to_have_value("easy")
    page.keyboard.press("Tab")
    page.keyboard.type("shapes")
    expect(page.locator("#tag")).to_have_value("shapes")
    follow(cp, "form.filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"/practice/[^/]+/1$"))

    # N until a predict-then-run question, whose answer brings the Run it panel.
    for _ in range(12):
        if page.locator(".predict-note").count():
            break
        with cp.navigation():
            page.keyboard.press("n")
    expect(page.locator(".predict-note")).to_be_visible()
    page.evaluate("window.sameDocument = true")

    # Answer: Enter on an option checks the answer (keys.js); else Tab to Check answer, Enter.
    kind = answer_by_keyboard(page)
    if kind in ("single_choice", "multiple_select"):
        page.keyboard.press("Enter")
    else:
        tab_to(page, "#answer-form button[type=submit]")
        page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_contain_text("the correct answer is")
    expect(page.locator("#feedback")).to_be_focused()
    cp.check("answered from the keyboard")

    # Tab reaches the Run it box, and passes through it to Run without changing the code.
    run_box = page.get_by_label("Code to run")
    prompt_code = run_box.input_value()
    tab_to(page, "#run-code")
    assert run_box.get_attribute("aria-describedby") == "run-code-keys"
    expect(page.locator("#run-code-keys")).to_contain_text("Ctrl+Enter runs the code.")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_focused()
    expect(run_box).to_have_value(prompt_code)
    output = page.locator("#run-output")
    page.keyboard.press("Enter")
    expect(output).to_contain_text(re.compile(r"Ran to the end|Raised"))
    cp.check("the prompt's code run from the keyboard")

    # Back into the box: Enter to edit, type with Tab to indent, Ctrl+Enter runs.
    page.keyboard.press("Shift+Tab")
    expect(run_box).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Control+a")
    page.keyboard.type("import torch\nfor n in (1, 2):\n")
    page.keyboard.press("Tab")
    page.keyboard.type("x = torch.zeros(n, 3)\nprint(tuple(x.shape))\n")
    expect(run_box).to_have_value(
        "import torch\nfor n in (1, 2):\n    x = torch.zeros(n, 3)\nprint(tuple(x.shape))\n"
    )
    page.keyboard.press("Control+Enter")
    expect(output).to_contain_text("Ran to the end")
    expect(output.locator("pre.output")).to_have_text("(2, 3)")
    expect(run_box).to_be_focused()
    cp.check("edited code run from the keyboard")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_focused()
    assert page.evaluate("window.sameDocument") is True, "the page reloaded instead of updating"

    # To the topic (the breadcrumb), then a test of ten questions.
    follow(cp, "main .breadcrumb a[href$='/topics/birnn']", back=True)
    expect(page.get_by_role("heading", level=1)).to_have_text("Bidirectional RNNs in PyTorch")
    follow(cp, "ul.modes a[href$='/test']")
    follow(cp, "main form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/tests/[^/]+/1$"))
    total = 10
    kinds = []
    for n in range(1, total + 1):
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Test {n} / {total}")
        kinds.append(answer_by_keyboard(page))
        if n == 2:  # flag it with Space, then N saves and moves on, as the shortcuts say
            tab_to(page, "#flag")
            page.keyboard.press("Space")
            expect(page.locator("#flag")).to_be_checked()
            with cp.navigation():
                page.keyboard.press("n")
            expect(page.locator("nav.test-nav li").nth(1)).to_contain_text("(flagged)")
            continue
        last = n == total
        button = "button[value=finish]" if last else "button[value=next]"
        tab_to(page, f"#answer-form {button}")
        with cp.navigation():
            page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Before you finish")
    follow(cp, "form.finish-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/tests/[^/]+/result$"))
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(rf"You scored [\d./]+ of {total} points")
    )
    assert len(kinds) == total
