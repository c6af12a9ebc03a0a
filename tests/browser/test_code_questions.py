"""Code questions in a real browser: Run on the samples, Submit to the hidden tests, line
numbers beside the editor, and the test review's code and failed tests. Axe on every page."""

from __future__ import annotations

import re

import pytest
from browser_support import Browsing, CheckedPage, open_practice
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

PRINTED = "checking the samples"


def editor(page: Page) -> Locator:
    return page.get_by_label("Your code")


def with_print(page: Page) -> str:
    """The question's starter code (which fails a sample) with a line that prints."""
    return editor(page).input_value() + f"\nprint({PRINTED!r})\n"


def expect_failed_sample_named(run: Locator) -> None:
    """The Run's result names a failed sample and says what it expected and what it got."""
    expect(run.locator(".test-summary")).to_contain_text(re.compile(r"Failed: “[^”]+”"))
    failed = run.locator("tr.test-failed").first
    expect(failed.locator(".test-expected")).to_contain_text(re.compile(r"^Expected: \S"))
    expect(failed.locator(".test-got")).to_contain_text(re.compile(r"^Got: \S"))
    name = failed.get_by_role("rowheader").inner_text()
    expect(run.locator(".test-summary")).to_contain_text(f"“{name}”")


def test_run_names_the_failing_sample_and_shows_the_output_then_submit(
    checked_page: CheckedPage,
) -> None:
    cp, page = checked_page, checked_page.page
    open_practice(cp, tag="packing", kind="code")  # two code questions among the packing ones
    expect(page.get_by_role("heading", name="Run it")).to_have_count(0)
    page.evaluate("window.sameDocument = true")

    editor(page).fill(with_print(page))
    page.get_by_role("button", name="Run", exact=True).click()

    run = page.locator("#code-run")
    expect(run).to_have_attribute("role", "status")
    expect(run.get_by_role("table", name="Sample tests")).to_be_visible()
    expect_failed_sample_named(run)
    expect(run.locator("pre.output").first).to_contain_text(PRINTED)
    expect(editor(page)).to_have_value(re.compile(re.escape(PRINTED)))  # the code stays
    assert page.evaluate("window.sameDocument") is True, "htmx ran it in place"
    cp.check("a Run with a failed sample")

    # Submit runs the hidden tests: each is named, with expected and got, and the output.
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#verdict")).to_contain_text(re.compile(r"Incorrect|Partly correct"))
    hidden = page.get_by_role("table", name="Hidden tests")
    expect(hidden.locator("tr.test-failed .test-expected").first).to_contain_text("Expected: ")
    expect(hidden.locator("tr.test-failed .test-got").first).to_contain_text("Got: ")
    printed = page.get_by_role("heading", name="What your code printed")
    expect(printed).to_be_visible()
    expect(page.locator("#submission-output + pre, .submission pre.output")).to_contain_text(
        PRINTED
    )
    cp.check("a submission's hidden tests and output")


def test_a_run_that_raises_says_the_line(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    open_practice(cp, tag="packing", kind="code")

    editor(page).fill("x = 1\n\ny = x + undefined_name\n")
    page.get_by_role("button", name="Run", exact=True).click()

    run = page.locator("#code-run")
    expect(run.locator(".run-summary")).to_contain_text("Raised NameError on line 3")
    expect(run.locator("tr.test-failed .test-got").first).to_contain_text(
        "your code raised NameError (line 3)"
    )
    cp.check("a Run that raised")


def test_line_numbers_beside_the_editor_follow_its_lines(
    checked_page: CheckedPage,
) -> None:
    cp, page = checked_page, checked_page.page
    open_practice(cp, tag="packing", kind="code")
    box = editor(page)
    gutter = page.locator(".editor:has(#answer-input) .editor-gutter")

    expect(gutter).to_have_attribute("aria-hidden", "true")
    lines = box.input_value().count("\n") + 1
    expect(gutter).to_have_text("".join(f"{n}\n" for n in range(1, lines + 1)))
    assert gutter.evaluate("g => g.tabIndex") == -1, "the gutter is never focused"

    box.fill("\n".join(f"x{n} = {n}" for n in range(1, 61)))
    expect(gutter).to_have_text(re.compile(r"^1\n2\n.*\n60\n$", re.DOTALL))
    gutter_box, code_box = gutter.bounding_box(), box.bounding_box()
    assert gutter_box and code_box
    assert gutter_box["x"] + gutter_box["width"] <= code_box["x"] + 1, "beside, to the left"
    assert abs(gutter_box["height"] - code_box["height"]) < 1, "as tall as the box"

    # Each number on the line of its code: the gutter and the box share their line metrics (the
    # box grows with its code, so it does not scroll; editor.js keeps the two in step if it did).
    heights = (
        "e => [e.scrollHeight, getComputedStyle(e).lineHeight, getComputedStyle(e).paddingTop]"
    )
    assert gutter.evaluate(heights) == box.evaluate(heights)
    # ...and the last number is level with the last line of code.
    last = "e => { const r = document.createRange(); r.selectNodeContents(e.querySelector('code'));"
    last += (
        " const rects = r.getClientRects(); return Math.round(rects[rects.length - 1].bottom); }"
    )
    copy = page.locator(".editor:has(#answer-input) .editor-copy")
    assert abs(gutter.evaluate(last) - copy.evaluate(last)) <= 1
    cp.check("line numbers")


def test_without_javascript_run_shows_the_page_again_with_the_code_kept(
    browsing: Browsing,
) -> None:
    cp = browsing.new_page(java_script_enabled=False)
    page = cp.page
    open_practice(cp, tag="packing", kind="code")
    expect(page.locator("textarea[data-editor]")).to_have_count(1)
    expect(page.locator(".editor-gutter")).to_have_count(0)  # the textarea alone
    code = with_print(page)
    editor(page).fill(code)

    with cp.navigation():
        page.get_by_role("button", name="Run", exact=True).click()

    expect(editor(page)).to_have_value(code)
    run = page.locator("#code-run")
    expect_failed_sample_named(run)
    expect(run.locator("pre.output").first).to_contain_text(PRINTED)


def test_the_test_review_shows_the_code_and_which_tests_failed(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    for _ in range(8):  # a test draws its questions at random: find one with a code question
        cp.goto("/topics/birnn/test")
        with cp.navigation():
            page.get_by_role("button", name="Start the test").click()
        session_id = page.url.split("/")[-2]
        position = _code_position(page, session_id)
        if position is not None:
            break
        cp.goto(f"/tests/{session_id}/summary")  # finished, so the next start draws anew
        with cp.navigation():
            page.get_by_role("button", name="Finish with").click()
    else:
        pytest.fail("no test drew a code question in 8 tries")
    cp.goto(f"/tests/{session_id}/{position}")
    code = with_print(page)
    editor(page).fill(code)
    page.get_by_role("button", name="Run", exact=True).click()
    expect_failed_sample_named(page.locator("#code-run"))
    cp.check("a Run in a test")

    body = {"position": position, "answer": code}
    assert page.request.post(f"/api/v1/sessions/{session_id}/answers", data=body).ok
    assert page.request.post(f"/api/v1/sessions/{session_id}/finish").ok
    cp.goto(f"/tests/{session_id}/result")

    review = page.locator(f"section.review-item[aria-labelledby='review-{position}']")
    expect(review.get_by_role("heading", name=f"Your code for question {position}")).to_be_visible()
    expect(review.locator(".review-code .highlight")).to_contain_text(PRINTED)
    report = review.get_by_role("table", name=f"Hidden tests of question {position}")
    expect(report.locator("tr.test-failed").first).to_be_visible()
    expect(review.locator(".test-summary")).to_contain_text("Failed: “")
    expect(review.locator("pre.output")).to_contain_text(PRINTED)


def _code_position(page: Page, session_id: str) -> int | None:
    """The position of the first code question in the test, through the API."""
    total = page.request.get(f"/api/v1/sessions/{session_id}").json()["total"]
    for position in range(1, total + 1):
        item = page.request.get(f"/api/v1/sessions/{session_id}/questions/{position}").json()
        if item["question"]["type"] == "code":
            return position
    return None
