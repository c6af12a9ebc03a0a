"""Coming back in a real browser: the way on in reach on a long page, the practice summary,
resume offers on the topic page and past tests on the progress page, each checked by axe."""

from __future__ import annotations

import re

import pytest
from browser_support import CheckedPage, give_answer, open_practice, start_practice, start_test
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def in_view(page: Page, selector: str) -> bool:
    """Whether the element is wholly inside the window, as scrolled now."""
    return bool(
        page.locator(selector).first.evaluate(
            "e => { const r = e.getBoundingClientRect();"
            " return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }"
        )
    )


def test_next_question_is_in_reach_without_scrolling_on_a_long_page(
    checked_page: CheckedPage,
) -> None:
    cp, page = checked_page, checked_page.page
    page.set_viewport_size({"width": 1000, "height": 700})
    open_practice(cp, difficulty="hard")
    give_answer(page)
    page.get_by_role("button", name=re.compile(r"^(Check answer|Submit)$")).click()
    expect(page.locator("#verdict")).not_to_be_empty()
    cp.check("answered")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height > 1400, f"the page should be long enough to test this ({height} px)"
    page.evaluate("window.scrollTo(0, 0)")
    assert in_view(page, "nav.pager a[data-shortcut=n]"), "Next at the top of the page"
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    assert in_view(page, "nav.pager a[data-shortcut=n]"), "Next half-way down"


def test_the_practice_summary_and_the_resume_offers(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    start_practice(cp, difficulty="easy")
    give_answer(page)
    page.get_by_role("button", name=re.compile(r"^(Check answer|Submit)$")).click()
    expect(page.locator("#verdict")).not_to_be_empty()
    cp.check("answered")
    cp.goto("/topics/birnn")
    resume = page.get_by_role("link", name="Resume practice at question 2")
    expect(resume).to_be_visible()
    with cp.navigation():
        resume.click()
    expect(page).to_have_url(re.compile(r"/practice/[^/]+/2$"))
    summary = page.url.rsplit("/", 1)[0] + "/summary"
    cp.goto(summary)
    expect(page.get_by_role("heading", level=1)).to_have_text("Practice summary")
    expect(page.get_by_role("table")).to_contain_text("Not answered")
    expect(page.locator("main")).to_contain_text(re.compile(r"You answered 1 of \d+ questions"))

    start_test(cp)
    cp.goto("/progress")
    expect(page.get_by_role("heading", name="Tests to finish")).to_be_visible()
    cp.goto("/topics/birnn")
    expect(page.get_by_role("link", name="Resume your test")).to_be_visible()
