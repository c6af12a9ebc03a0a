"""Practice in a real browser: hints, verdicts and explanations, with and without JavaScript."""

from __future__ import annotations

import re

import pytest
from browser_support import (
    Browsing,
    CheckedPage,
    give_answer,
    go_to_question_of_kind,
    open_practice,
    start_practice,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

EXPLANATION_HEADINGS = ("Solution, step by step", "Final answer", "Quick check", "Common mistakes")


def expect_explanation(page: Page, chosen: str, right: bool) -> None:
    """The explanation is shown, and the option review marks `chosen` as the learner's pick."""
    explanation = page.locator("#explanation")
    expect(explanation.get_by_role("heading", name="Explanation")).to_be_visible()
    for name in ("Why each option is right or wrong", *EXPLANATION_HEADINGS):
        expect(explanation.get_by_role("heading", name=name, exact=True)).to_be_visible()
    expect(explanation.locator("ol.steps > li").first).to_be_visible()
    picked = explanation.locator("ul.option-review > li").filter(has_text="You chose this")
    expect(picked).to_have_count(1)
    expect(picked.locator(".option-letter")).to_have_text(f"{chosen}.")
    expect(picked).to_contain_text("Correct option" if right else "Wrong option")
    expect(picked.locator(".option-feedback")).not_to_be_empty()


def test_practice_wrong_then_right(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    start_practice(cp, difficulty="easy")
    expect(page.locator("p.meta")).to_contain_text("Easy only")
    go_to_question_of_kind(cp, "single_choice")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    # S asks the server for the first hint, which comes in place and takes focus.
    expect(page.locator("section.hint")).to_have_count(0)
    page.keyboard.press("s")
    hint = page.locator("section.hint").first
    expect(hint.get_by_role("heading", name=re.compile(r"^Hint 1 of \d$"))).to_be_visible()
    expect(hint).to_be_focused()
    expect(hint.locator(":scope > :not(h3)").first).not_to_be_empty()
    cp.check("first hint shown")

    # The live region is in the accessibility tree before anything is put in it, so that
    # screen readers announce the verdict when it appears.
    expect(page.locator("#verdict[role=status]")).to_be_empty()

    # Keyboard: 1 chooses option A, Enter submits; the verdict is swapped in without a reload.
    page.keyboard.press("1")
    expect(page.locator("#option-A")).to_be_checked()
    expect(page.locator("#option-A")).to_be_focused()
    page.keyboard.press("Enter")
    verdict = page.locator("#verdict[role=status]")
    expect(verdict).to_contain_text(re.compile(r"the correct answer is [A-G]\."))
    correct = re.search(r"the correct answer is ([A-G])\.", verdict.inner_text())[1]
    wrong = "B" if correct == "A" else "A"
    if correct == "A":  # the keyboard answer was right: now answer wrongly with the mouse
        expect(verdict).to_contain_text("Correct.")
        cp.check("verdict: correct")
        page.locator(f"#option-{wrong}").check()
        page.get_by_role("button", name="Answer again").click()

    expect(verdict).to_contain_text("Incorrect.")
    expect(verdict).to_contain_text(f"You answered {wrong};")
    expect(page.locator("#verdict")).to_have_class(re.compile(r"\bverdict-box-wrong\b"))
    expect_explanation(page, chosen=wrong, right=False)
    expect(page.locator("#hints")).to_have_count(0)  # the solution is shown: no hints needed
    expect(page.locator("#feedback")).to_be_focused()
    cp.check("verdict: incorrect")

    # Keyboard again: the correct option's letter, then Enter.
    page.keyboard.press(correct.lower())
    expect(page.locator(f"#option-{correct}")).to_be_checked()
    page.keyboard.press("Enter")
    expect(verdict).to_contain_text("Correct.")
    expect(verdict).not_to_contain_text("Incorrect")
    expect(verdict).to_contain_text(f"You answered {correct};")
    expect(page.locator("#verdict")).to_have_class(re.compile(r"\bverdict-box-correct\b"))
    expect_explanation(page, chosen=correct, right=True)
    cp.check("verdict: correct")

    assert page.evaluate("window.sameDocument") is True, "the page reloaded instead of updating"
    expect(page).to_have_url(re.compile(r"/practice/[^/]+/\d+\?answer=\d+(#feedback)?$"))


def test_practice_works_without_javascript(browsing: Browsing) -> None:
    cp = browsing.new_page(java_script_enabled=False)
    page = cp.page
    start_practice(cp, difficulty="easy")  # no code question: its button says Submit
    kind, answer = give_answer(page)
    with cp.navigation():
        page.get_by_role("button", name="Check answer").click()

    expect(page).to_have_url(re.compile(r"/practice/[^/]+/1\?answer=\d+#feedback$"))
    verdict = page.locator("#verdict[role=status]")
    expect(verdict).to_contain_text(re.compile(r"Correct\.|Incorrect\.|Partly correct"))
    expect(verdict).to_contain_text("the correct answer is")
    explanation = page.locator("#explanation")
    expect(explanation.get_by_role("heading", name="Explanation")).to_be_visible()
    for name in EXPLANATION_HEADINGS:
        expect(explanation.get_by_role("heading", name=name, exact=True)).to_be_visible()
    if kind in ("single_choice", "multiple_select"):
        picked = explanation.locator("ul.option-review > li").filter(has_text="You chose this")
        expect(picked.locator(".option-letter")).to_have_text(f"{answer}.")
    # The form is ready for another try, showing the answer just given.
    expect(page.get_by_role("button", name="Answer again")).to_be_visible()
    with cp.navigation():
        page.get_by_role("navigation", name="Practice questions").get_by_role(
            "link", name="Next question"
        ).click()
    expect(page).to_have_url(re.compile(r"/practice/[^/]+/2$"))
    expect(page.locator("#verdict[role=status]")).to_be_empty()


def test_malformed_shape_answer_is_not_counted(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    open_practice(cp, tag="shapes", kind="tensor_shape")
    box = page.get_by_label("Your answer")
    expect(page.locator("#answer-format")).to_contain_text("torch.Size")
    expect(box).not_to_have_attribute("aria-invalid", "true")

    box.fill("abc")
    box.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Cannot read that answer")
    expect(alert).to_contain_text("torch.Size([4, 7, 6])")  # names the expected form
    expect(alert).to_contain_text("did not count as an attempt")
    box = page.get_by_label("Your answer")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_value("abc")  # what was typed is kept
    expect(box).to_be_focused()
    described = box.get_attribute("aria-describedby") or ""
    assert "answer-error" in described.split(), described
    expect(page.locator("#verdict[role=status]")).to_be_empty()  # no verdict
    expect(page.locator("#explanation")).to_be_empty()
    cp.check("answer cannot be read")

    box.fill("(1, 2)")
    box.press("Enter")
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text(re.compile(r"Correct\.|Incorrect\."))
    expect(verdict).to_contain_text("You answered (1, 2);")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_label("Your answer")).not_to_have_attribute("aria-invalid", "true")
    cp.check("verdict after a valid answer")

    # Only the valid answer was recorded.
    cp.goto("/progress")
    total = page.get_by_role("table").first.locator("tfoot tr")
    expect(total.locator("td").nth(1)).to_have_text("1")


def test_the_verdict_is_announced_in_place_after_an_answer(checked_page: CheckedPage) -> None:
    """htmx posts the answer in the background; the verdict's text changes inside the same
    role="status" element, which screen readers announce (a new element may not be)."""
    cp, page = checked_page, checked_page.page
    open_practice(cp, difficulty="easy", kind="single_choice")
    page.evaluate("window.verdictBox = document.getElementById('verdict')")
    verdict = page.locator("#verdict[role=status]")
    expect(verdict).to_be_empty()

    for letter, button in (("A", "Check answer"), ("B", "Answer again")):
        page.locator(f"#option-{letter}").check()
        with page.expect_request(lambda r: r.method == "POST") as posted:
            page.get_by_role("button", name=button).click()
        assert posted.value.resource_type == "xhr", "the answer was not sent in the background"
        assert posted.value.headers.get("hx-request") == "true"
        expect(verdict).to_contain_text(f"You answered {letter};")
        right = "Correct." in verdict.inner_text()
        box = r"\bverdict-box-correct\b" if right else r"\bverdict-box-wrong\b"
        expect(page.locator("#verdict")).to_have_class(re.compile(box))
        expect(page.locator("#feedback")).to_be_focused()
        same = page.evaluate("document.getElementById('verdict') === window.verdictBox")
        assert same, "the verdict's live region was replaced instead of updated"
        cp.check(f"verdict after answering {letter}")
    expect(page).to_have_url(re.compile(r"/practice/[^/]+/\d+\?answer=\d+$"))


def test_an_answer_that_cannot_be_sent_in_the_background_is_posted_as_a_form(
    checked_page: CheckedPage,
) -> None:
    cp, page = checked_page, checked_page.page
    open_practice(cp, difficulty="easy")  # no code question: its button says Submit
    give_answer(page)
    # The background request fails as if the network were down; the form then posts itself.
    page.route(
        "**/practice/**",
        lambda route: route.abort() if route.request.resource_type == "xhr" else route.continue_(),
    )
    with cp.navigation():
        page.get_by_role("button", name="Check answer").click()
    expect(page).to_have_url(re.compile(r"/practice/[^/]+/1\?answer=\d+#feedback$"))
    expect(page.locator("#verdict[role=status]")).to_contain_text("the correct answer is")


def test_an_expired_form_shows_the_servers_explanation_as_without_javascript(
    checked_page: CheckedPage,
) -> None:
    """The server refuses the answer with an error page (403), which holds no question to swap
    in: the form is posted as without JavaScript, so the learner reads why."""
    cp, page = checked_page, checked_page.page
    open_practice(cp, difficulty="easy")  # no code question: its button says Submit
    give_answer(page)
    page.locator("#answer-form input[name=csrf_token]").evaluate("input => { input.value = 'ff' }")
    with cp.navigation():
        page.get_by_role("button", name="Check answer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("403")
    expect(page.get_by_role("alert")).to_contain_text("this form has expired")
