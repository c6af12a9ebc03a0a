"""Every page passes axe (light and dark), fits a phone, and works from the keyboard alone.

Axe itself runs on every page load of every browser test (see browser_support.CheckedPage);
this module makes sure each kind of page is visited at least once, in its interesting state.
"""

from __future__ import annotations

import re

import pytest
from browser_support import (
    Browsing,
    CheckedPage,
    finish_test,
    go_to_question_of_kind,
    start_practice,
    start_test,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}


def answer_wrongly(cp: CheckedPage) -> None:
    """On a practice page, give a wrong answer to a single-choice question."""
    page = cp.page
    go_to_question_of_kind(cp, "single_choice")
    verdict = page.locator("#verdict[role=status]")
    page.locator("#option-A").check()
    page.get_by_role("button", name="Check answer").click()
    expect(verdict).to_contain_text(re.compile(r"Correct\.|Incorrect\.|Partly correct"))
    if "Incorrect." not in verdict.inner_text():
        cp.check("verdict")
        page.locator("#option-B").check()
        page.get_by_role("button", name="Answer again").click()
    expect(verdict).to_contain_text("Incorrect.")
    cp.check("verdict: incorrect")


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def test_every_page_is_accessible(browsing: Browsing) -> None:
    cp = browsing.new_page()
    page = cp.page

    cp.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Learn PyTorch by doing")
    cp.goto("/topics/birnn")
    expect(page.get_by_role("heading", name="Choose how to learn")).to_be_visible()
    cp.goto("/topics/birnn/learn")
    expect(page.locator("article.notes pre").first).to_be_visible()  # code, highlighted
    cp.goto("/topics/birnn/test")
    expect(page.get_by_role("button", name="Start the test")).to_be_visible()

    start_practice(cp, difficulty="easy")  # visits /topics/birnn/practice, then question 1
    answer_wrongly(cp)

    cp.goto("/progress")
    expect(page.get_by_role("table", name=re.compile("by difficulty"))).to_be_visible()
    cp.goto("/topics/birnn/mistakes")
    expect(page.locator("ol.mistakes > li")).to_have_count(1)
    expect(page.get_by_role("button", name="Practise these again")).to_be_visible()

    cp.goto("/lti/guide")  # the LMS integration guide: tables and code blocks
    expect(page.get_by_role("heading", level=1)).to_have_text("LMS integration")

    with cp.navigation():
        response = page.goto("/topics/nope")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_role("alert")).to_contain_text("nope")
    # Ten pages and the wrong answer's verdict; one more when option A happened to be right
    # (options are shown in an order of each attempt's own).
    assert cp.checks >= 11


def test_phone_sized_pages_do_not_scroll_sideways(browsing: Browsing) -> None:
    cp = browsing.new_page(viewport=PHONE)
    page = cp.page
    assert page.evaluate("window.innerWidth") == PHONE["width"]

    # A practice set whose options hold long lines of code; every question, then an answer.
    start_practice(cp, tag="overfitting")
    first = page.url
    total = int(re.search(r"/ (\d+)", page.locator("h1 .counter").inner_text())[1])
    wide = {}
    for n in range(1, total + 1):
        if n > 1:
            with cp.navigation():
                page.get_by_role("navigation", name="Practice questions").get_by_role(
                    "link", name="Next question"
                ).click()
        if (overflow := horizontal_overflow(page)) > 0:
            wide[page.url] = overflow
    assert not wide, f"practice pages wider than the phone, by (px): {wide}"
    cp.goto(first)
    answer_wrongly(cp)
    assert horizontal_overflow(page) <= 0, "the practice explanation is wider than the phone"

    # Many questions' prompts and solutions at once: a test's result page.
    start_test(cp)
    finish_test(cp)
    expect(page.locator("section.review-item")).to_have_count(10)
    for summary in page.locator("section.review-item details > summary").all():
        summary.click()
    cp.check("every solution open")
    assert horizontal_overflow(page) <= 0, "the test result is wider than the phone"

    for url in ("/topics/birnn/learn", "/progress", "/playground", "/topics/birnn/lab"):
        cp.goto(url)
        for summary in page.locator("main details > summary").all():
            summary.click()  # hints, the solution's code, the numbers behind each chart
        assert horizontal_overflow(page) <= 0, f"{url} is wider than the phone"


def test_keyboard_only(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    cp.goto("/topics/birnn/practice")
    # Start practice from the keyboard: Tab to the button, then Enter.
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Start practice":
            break
    expect(page.get_by_role("button", name="Start practice")).to_be_focused()
    with cp.navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/practice/[^/]+/1$"))
    go_to_question_of_kind(cp, "single_choice")  # most likely already there
    here = int(re.search(r"/(\d+)$", page.url)[1])

    # From the top of the page: the skip link first, then the site navigation.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, "the focused skip link is hidden"
    cp.check("skip link focused")
    main_nav = page.get_by_role("navigation", name="Main")
    for name in ("torchquiz", "Topics", "Shape playground", "My progress"):
        page.keyboard.press("Tab")
        expect(main_nav.get_by_role("link", name=name, exact=True)).to_be_focused()

    # Further on, the answer options come before the pager.
    passed = []
    for _ in range(30):
        page.keyboard.press("Tab")
        passed.append(
            page.evaluate(
                "(() => { const e = document.activeElement;"
                " return e.id || e.tagName.toLowerCase() + ': ' + e.textContent.trim(); })()"
            )
        )
        if passed[-1].startswith("option-"):
            break
    assert passed[-1] == "option-A", passed
    assert not any("Next question" in p for p in passed), passed

    # The skip link moves focus to the main content, whose first link is the breadcrumb.
    cp.reload()
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("main .breadcrumb a").first).to_be_focused()

    # N and P move between questions (focus is not in a text box).
    with cp.navigation():
        page.keyboard.press("n")
    expect(page).to_have_url(re.compile(rf"/practice/[^/]+/{here + 1}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{here + 1} /")
    with cp.navigation():
        page.keyboard.press("p")
    expect(page).to_have_url(re.compile(rf"/practice/[^/]+/{here}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{here} /")
