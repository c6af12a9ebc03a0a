"""Scored tests in a real browser: answering, saving, reloading, two tabs, and the result."""

from __future__ import annotations

import re

import pytest
from browser_support import (
    Browsing,
    CheckedPage,
    expect_answer_shown,
    finish_test,
    give_answer,
    start_test,
)
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

TOTAL = 10


def nav_link(page: Page, n: int) -> Locator:
    return page.get_by_role("navigation", name="Questions in this test").get_by_role(
        "link", name=re.compile(rf"^{n} \((not )?answered\)( \(flagged\))?$")
    )


def expect_on_question(page: Page, n: int, answered: int) -> None:
    expect(page).to_have_url(re.compile(rf"/tests/[^/]+/{n}(\?saved=\d+)?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Test {n} / {TOTAL}")
    expect(page.locator("p.meta")).to_contain_text(f"{answered} of {TOTAL} answered")
    expect(nav_link(page, n)).to_have_attribute("aria-current", "step")


def review_answer(page: Page, n: int) -> str:
    """What the result page says was answered to question n."""
    section = page.locator(f"section.review-item[aria-labelledby='review-{n}']")
    text = section.get_by_text(re.compile(r"^Your answer: ")).inner_text()
    return re.match(r"Your answer: (.*?)\. Correct answer:", text)[1]


def reviewed_as(kind: str, answer: str, shown: str) -> bool:
    """Whether the result page reports `answer` as `shown`: code by its tests (ours fail all)."""
    if kind == "code":
        return re.fullmatch(r"code passing 0 of \d+ tests", shown) is not None
    return shown == answer


def test_full_test_to_result(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    start_test(cp)
    given: dict[int, tuple[str, str]] = {}
    for n in range(1, TOTAL + 1):
        expect_on_question(page, n, answered=n - 1)
        if n > 1:
            expect(page.locator(".saved-status[role=status]")).to_have_text(
                f"Your answer to question {n - 1} is saved."
            )
            flag = " (flagged)" if n - 1 == 3 else ""
            expect(nav_link(page, n - 1)).to_have_accessible_name(f"{n - 1} (answered){flag}")
            expect(nav_link(page, n - 1)).to_have_class(re.compile(r"\banswered\b"))
        expect(nav_link(page, n)).to_have_accessible_name(f"{n} (not answered)")
        finish = page.get_by_role("button", name=re.compile(r"^Review and finish"))
        expect(finish).to_have_text(f"Review and finish ({TOTAL - n + 1} not answered yet)")
        given[n] = give_answer(page)
        if n == 3:
            page.get_by_label("Flag this question to revisit before finishing").check()

        if n == 5:  # mid-way: save, go back through the navigator, reload: still selected
            with cp.navigation():
                page.get_by_role("button", name="Save and next").click()
            expect_on_question(page, 6, answered=5)
            with cp.navigation():
                nav_link(page, 5).click()
            expect_on_question(page, 5, answered=5)
            expect_answer_shown(page, *given[5])
            cp.reload()
            expect_on_question(page, 5, answered=5)
            expect_answer_shown(page, *given[5])
            expect(finish).to_have_text(f"Review and finish ({TOTAL - 5} not answered yet)")
            expect(nav_link(page, 3)).to_have_accessible_name("3 (answered) (flagged)")

        if n < TOTAL:
            with cp.navigation():
                page.get_by_role("button", name="Save and next").click()
        else:
            expect(page.get_by_role("button", name="Save and next")).to_have_count(0)
            with cp.navigation():
                finish.click()

    # The summary before finishing: everything answered, question 3 flagged, a link back.
    expect(page.get_by_role("heading", level=1)).to_have_text("Before you finish")
    expect(page.locator("main")).to_contain_text(
        f"{TOTAL} of {TOTAL} questions answered, 1 flagged"
    )
    flagged = page.get_by_role("list", name="Questions flagged to revisit")
    expect(flagged.get_by_role("link")).to_have_text(["Question 3"])
    with cp.navigation():
        page.get_by_role("button", name="Finish test").click()
    expect(page).to_have_url(re.compile(r"/tests/[^/]+/result$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Test result")
    score = page.get_by_role("status")
    expect(score).to_contain_text(
        re.compile(rf"You scored [\d./]+ of {TOTAL} points \(\d+(\.\d+)?%\)")  # 1/2: a fraction
    )

    table = page.get_by_role("table", name="Score by difficulty")
    rows = table.locator("tbody tr")
    expect(rows.locator("th")).to_have_text(["Easy", "Medium", "Hard"])
    counts = [int(c) for c in rows.locator("td:nth-of-type(1)").all_inner_texts()]
    assert sum(counts) == TOTAL, counts

    reviews = page.locator("section.review-item")
    expect(reviews).to_have_count(TOTAL)
    for n in range(1, TOTAL + 1):
        heading = page.locator(f"#review-{n}")
        expect(heading).to_have_text(re.compile(rf"^Question {n}:\s+(correct|incorrect|partly)"))
        assert reviewed_as(*given[n], review_answer(page, n)), (n, given[n])

    # Each solution is behind a disclosure; open one and it shows the full explanation.
    solution = reviews.nth(0).locator("details").filter(has_text="Show the solution")
    expect(solution.get_by_role("heading", name="Solution, step by step")).to_be_hidden()
    solution.locator("summary").click()
    expect(solution.get_by_role("heading", name="Solution, step by step")).to_be_visible()
    expect(solution.get_by_role("heading", name="Final answer")).to_be_visible()
    cp.check("first solution open")
    assert reviews.locator("details summary", has_text="Show the solution").count() == TOTAL
    # and beside each, a way to report a problem with that question
    assert reviews.locator("details summary", has_text="Report a problem").count() == TOTAL


def test_test_reload_and_second_tab_do_not_duplicate(browsing: Browsing) -> None:
    first = browsing.new_page()
    question_1 = start_test(first)
    second = browsing.new_page(first.page.context)  # same learner, another tab
    second.goto(question_1)
    expect_on_question(second.page, 1, answered=0)

    # Two visible tabs cannot both be in front; act only in the front one, as a person would
    # (a background tab's animation frames are throttled, which slows Playwright's clicks).
    first.page.bring_to_front()
    kind, early = give_answer(first.page, 0)
    with first.navigation():
        first.page.get_by_role("button", name="Save and next").click()
    expect_on_question(first.page, 2, answered=1)

    # The second tab still shows question 1 unanswered; it answers differently and saves.
    second.page.bring_to_front()
    _, late = give_answer(second.page, 1)
    assert late != early
    with second.navigation():
        second.page.get_by_role("button", name="Save and next").click()
    expect_on_question(second.page, 2, answered=1)  # still one answered question, not two

    # Reloading the first tab, and going back to question 1 there, shows the later answer.
    first.page.bring_to_front()
    first.reload()
    expect_on_question(first.page, 2, answered=1)
    with first.navigation():
        first.page.get_by_role("button", name="Save and go back").click()
    expect_on_question(first.page, 1, answered=1)
    expect_answer_shown(first.page, kind, late)

    # Resubmitting the same answer (a double submit) does not add a second one either.
    with first.navigation():
        first.page.get_by_role("button", name="Save and next").click()
    expect_on_question(first.page, 2, answered=1)

    finish_test(first)
    expect(first.page.locator("section.review-item")).to_have_count(TOTAL)
    expect(first.page.get_by_role("status")).to_contain_text(
        re.compile(rf"of {TOTAL} points.*of {TOTAL} questions fully correct")
    )
    assert reviewed_as(kind, late, review_answer(first.page, 1))
    for n in range(2, TOTAL + 1):
        assert review_answer(first.page, n) == "nothing", n
        expect(first.page.locator(f"#review-{n}")).to_contain_text("not answered")

    # The finished test cannot be answered from the other tab: it goes to the result.
    second.page.bring_to_front()
    with second.navigation():
        second.page.get_by_role("button", name="Save and next").click()
    expect(second.page).to_have_url(re.compile(r"/tests/[^/]+/result$"))
    expect(second.page.locator("section.review-item")).to_have_count(TOTAL)
    assert reviewed_as(kind, late, review_answer(second.page, 1))
