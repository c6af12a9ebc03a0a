"""Running code in a real browser: predict then run, Run it, code questions, the playground."""

from __future__ import annotations

import re

import pytest
from browser_support import (
    Browsing,
    CheckedPage,
    give_answer,
    open_practice,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

EDITED = "import torch\nx = torch.zeros(2, 3)\nprint(x.sum().item())\n"
RAISING = "import torch\n\ntorch.nn.RNN(4, 2)(torch.randn(3, 5))\n"


def open_predict_then_run(cp: CheckedPage) -> None:
    """Easy shapes practice, at a question that asks for a prediction before its code is run."""
    open_practice(cp, difficulty="easy", tag="shapes", predict_then_run=True)
    expect(cp.page.locator(".predict-note")).to_have_count(1)


def run_in_panel(page: Page, code: str) -> None:
    page.get_by_label("Code to run").fill(code)
    page.get_by_role("button", name="Run", exact=True).click()


def test_predict_then_run_and_run_it(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    open_predict_then_run(cp)
    expect(page.get_by_role("heading", name="What PyTorch really did")).to_have_count(0)
    page.evaluate("window.sameDocument = true")

    give_answer(page)
    page.get_by_role("button", name="Check answer").click()
    expect(page.locator("#verdict")).to_contain_text("the correct answer is")
    real = page.locator("section.real-run")
    expect(real.get_by_role("heading", name="What PyTorch really did")).to_be_visible()
    expect(real.locator(".run-summary")).to_contain_text(re.compile(r"Ran to the end|Raised"))
    cp.check("the real run beside the answer")

    # Run it: the prompt's code is in the editor; edit it and run.
    expect(page.get_by_label("Code to run")).to_have_value(re.compile(r"import torch"))
    expect(page.locator(".editor:has(#run-code) .editor-copy .k").first).to_have_text("import")
    output = page.locator("#run-output")
    run_in_panel(page, EDITED)
    expect(output).to_contain_text("Ran to the end")
    expect(output.locator("pre.output")).to_have_text("0.0")
    expect(output.get_by_role("table", name="Tensors left in variables")).to_contain_text("(2, 3)")
    cp.check("an edited run")

    run_in_panel(page, RAISING)
    expect(output).to_contain_text("Raised RuntimeError on line 3.")
    expect(output.locator("pre.output")).to_contain_text("torch.nn.RNN(4, 2)")
    cp.check("a run that raised")
    assert page.evaluate("window.sameDocument") is True, "the page reloaded instead of updating"


def test_run_it_without_javascript(browsing: Browsing) -> None:
    cp = browsing.new_page(java_script_enabled=False)
    page = cp.page
    open_predict_then_run(cp)
    give_answer(page)
    with cp.navigation():
        page.get_by_role("button", name="Check answer").click()
    expect(page.get_by_role("heading", name="What PyTorch really did")).to_be_visible()
    page.get_by_label("Code to run").fill(EDITED)
    with cp.navigation():
        page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-output")).to_contain_text("Ran to the end")
    expect(page.get_by_label("Code to run")).to_have_value(EDITED)  # kept for the next edit


def test_code_question_with_hidden_tests(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    open_practice(cp, difficulty="medium", tag="shapes", kind="code")
    editor = page.get_by_label("Your code")

    # After an edit, Tab indents inside the editor instead of leaving it (test_keyboard.py has
    # the rest: Tab passes through the box until the learner edits, and after Escape).
    editor.fill("")
    editor.press("Tab")
    expect(editor).to_have_value("    ")
    expect(editor).to_be_focused()

    # Python highlighting: a copy under the box, hidden from screen readers, follows each edit.
    copy = page.locator(".editor:has(#answer-input) .editor-copy")
    expect(copy).to_have_attribute("aria-hidden", "true")
    editor.fill("import torch\n# sizes\nn = len('ab') + 2\n")
    expect(copy.locator(".k")).to_have_text(["import"])
    expect(copy.locator(".c1")).to_have_text("# sizes")
    expect(copy.locator(".s2")).to_have_text("'ab'")
    expect(copy.locator(".mi")).to_have_text("2")
    expect(copy.locator(".nb")).to_have_text("len")
    assert editor.bounding_box() == copy.bounding_box(), "the copy must line up with the box"
    cp.check("the highlighted editor")

    editor.fill("def broken(:\n")
    page.get_by_role("button", name="Submit").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("SyntaxError")
    expect(alert).to_contain_text("did not count as an attempt")
    cp.check("a syntax error")

    give_answer(page)  # valid Python that fails the hidden tests
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#verdict")).to_contain_text("Incorrect.")
    report = page.get_by_role("table", name="Hidden tests")
    expect(report).to_contain_text("Failed")
    expect(page.locator(".reference-code")).to_have_count(0)  # not given away by a wrong answer
    cp.check("failed hidden tests")

    # Asked for, the reference answer is shown (and recorded), and it passes every test.
    with cp.navigation():
        page.get_by_role("button", name="Show solution").click()
    expect(page.locator("#explanation")).to_be_focused()
    reference = page.locator(".reference-code pre").inner_text()
    page.get_by_role("textbox", name="Your code").fill(reference)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#verdict")).to_contain_text("Correct.")
    expect(report.locator("tbody tr")).not_to_have_count(0)
    expect(report).not_to_contain_text("Failed")
    cp.check("every hidden test passed")


def test_playground_follows_each_change(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    cp.goto("/playground")
    summary = page.get_by_role("status")
    expect(summary).to_have_text(re.compile(r"^Output shape \(4, 7, 40\); h_n \(2, 4, 20\); c_n"))
    page.evaluate("window.sameDocument = true")

    page.get_by_label("hidden_size").fill("8")
    expect(summary).to_contain_text("Output shape (4, 7, 16)")
    expect(page).to_have_url(re.compile(r"hidden_size=8"))
    table = page.get_by_role("table", name="Parameters per layer and direction")
    expect(table.locator("tbody tr")).to_have_count(2)
    cp.check("a smaller hidden size")

    page.get_by_label("num_layers").fill("3")
    expect(table.locator("tbody tr")).to_have_count(6)
    page.get_by_label("Cell type").select_option("GRU")
    expect(summary).to_contain_text("h_n (6, 4, 8)")
    expect(summary).not_to_contain_text("c_n")

    page.get_by_label("input_size").fill("11")
    expect(summary).to_contain_text("PyTorch raised RuntimeError")
    expect(summary).to_contain_text("Expected 11, got 10")
    cp.check("the error torch raises")

    page.get_by_label("Input shape").fill("4, x")
    expect(page.get_by_label("Input shape")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#input_shape-problem")).to_be_visible()
    expect(summary).to_contain_text("Fix the 1 problem in the form")
    cp.check("a field problem")
    page.get_by_label("Input shape").fill("4, 7, 11")
    expect(page.get_by_label("Input shape")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#input_shape-problem")).to_have_count(0)
    expect(summary).to_contain_text("Output shape (4, 7, 16)")
    expect(page.locator("#playground-result pre.highlight")).to_contain_text("nn.GRU(11, 8")
    assert page.evaluate("window.sameDocument") is True


def test_playground_without_javascript(browsing: Browsing) -> None:
    cp = browsing.new_page(java_script_enabled=False)
    page = cp.page
    cp.goto("/playground")
    page.get_by_label("Cell type").select_option("RNN")
    page.get_by_label("bidirectional").uncheck()
    page.get_by_label("Sequence lengths").fill("7, 5, 3, 1")
    with cp.navigation():
        page.get_by_role("button", name="Run in PyTorch").click()
    expect(page).to_have_url(re.compile(r"cell=RNN"))
    expect(page.get_by_role("status")).to_contain_text("Output shape (4, 7, 20); h_n (1, 4, 20)")
    expect(page.get_by_label("bidirectional")).not_to_be_checked()


def test_a_value_the_browser_would_refuse_still_gets_the_servers_word_next_to_its_field(
    checked_page: CheckedPage,
) -> None:
    """A number over its field's max is invalid to the browser too; the preview still asks the
    server, which names the problem beside the field, as without JavaScript."""
    cp, page = checked_page, checked_page.page
    cp.goto("/playground")
    summary = page.get_by_role("status")
    layers = page.get_by_label("num_layers")
    layers.fill("9")  # the field's max is 4
    expect(layers).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#num_layers-problem")).to_be_visible()
    described = (layers.get_attribute("aria-describedby") or "").split()
    assert "num_layers-problem" in described, described
    expect(summary).to_contain_text("Fix the 1 problem in the form")
    cp.check("a value over the field's max")

    layers.fill("2")
    expect(layers).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#num_layers-problem")).to_have_count(0)
    expect(summary).to_contain_text("h_n (4, 4, 20)")


def test_ticking_a_box_again_updates_the_playground_each_time(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    cp.goto("/playground")
    summary = page.get_by_role("status")
    expect(summary).to_contain_text("h_n (2, 4, 20)")
    both_ways = page.get_by_label("bidirectional")
    for ticked, h_n in ((False, "(1, 4, 20)"), (True, "(2, 4, 20)"), (False, "(1, 4, 20)")):
        both_ways.set_checked(ticked)
        expect(summary).to_contain_text(f"h_n {h_n}")
    cp.check("after ticking a box three times")
