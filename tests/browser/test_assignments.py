"""Assignments in a real browser, with axe on every page: an instructor sets an assignment of
two fixed choice questions; two learners join the course by its link and take it, one right and
one wrong; the instructor then reads the gradebook, one attempt's drill-down, and the
assignment's item statistics with their plots."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import yaml
from browser_support import Browsing, CheckedPage, instructor_with_course, sign_up
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

BIRNN = Path(__file__).resolve().parents[2] / "questions" / "birnn"
# Two easy single-choice questions of the shipped topic: nothing runs code, and the right option
# is found by its words (the options are shuffled per attempt, so never by its letter).
QUESTIONS = ("birnn-main-advantage", "bidir-live-captioning-unsuitable")


def right_option_words(slug: str) -> str:
    """The first words of the question's right option, as the page shows them (code spans
    lose their backticks)."""
    data = yaml.safe_load((BIRNN / f"{slug}.yaml").read_text(encoding="utf-8"))
    (right,) = [o["text"] for o in data["options"] if o.get("correct")]
    return " ".join(right.replace("`", "").split()[:8])


RIGHT = [right_option_words(slug) for slug in QUESTIONS]


def choose(page: Page, *, right: bool) -> None:
    """Tick the right option of whichever of QUESTIONS this page shows, or a wrong one."""
    labels = page.locator("#answer-form .option label")
    expect(labels.first).to_be_visible()
    (words,) = [w for w in RIGHT if labels.filter(has_text=w).count() == 1]
    if right:
        labels.filter(has_text=words).click()
    else:
        labels.filter(has_not_text=words).first.click()
    expect(page.locator("#answer-form input[name=answer]:checked")).to_have_count(1)


def set_assignment(teacher: CheckedPage, title: str) -> None:
    """From the course's page: Assignments, set a new one, and back on the list."""
    page = teacher.page
    with teacher.navigation():
        page.get_by_role("link", name="Assignments", exact=True).click()
    with teacher.navigation():
        page.get_by_role("link", name="Set a new assignment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New assignment")
    page.get_by_label("Title").fill(title)
    page.get_by_label(re.compile(r"\(shipped topic birnn,")).check()
    for slug in QUESTIONS:
        page.get_by_label(re.compile(rf"^birnn/{slug} ")).check()
    page.get_by_label("After the attempt is submitted").check()
    page.get_by_label("Attempts allowed").fill("2")
    with teacher.navigation():
        page.get_by_role("button", name="Set the assignment").click()
    expect(page).to_have_url(re.compile(r"/courses/[^/]+/assignments\?done=created$"))
    expect(page.get_by_role("status")).to_contain_text("Assignment set.")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=title))
    expect(row.locator("td").first).to_have_text("2")  # two questions


def learner_joins(browsing: Browsing, link: str, email: str, course: str) -> CheckedPage:
    """A learner in a browser of their own: the join link, sign up from it, join; left on
    the course's page."""
    cp = browsing.new_page()
    cp.goto(link)
    page = cp.page
    with cp.navigation():
        page.get_by_role("link", name="sign up").click()
    sign_up(cp, email)
    with cp.navigation():
        page.get_by_role("button", name=f"Join {course}").click()
    expect(page.get_by_role("status")).to_have_text("You have joined the course.")
    return cp


def take_assignment(cp: CheckedPage, title: str, *, right: bool) -> None:
    """From the course's page: Assignments, the assignment, Start, answer both questions
    (right or wrong), review and finish; ends on the result."""
    page = cp.page
    with cp.navigation():
        page.get_by_role("link", name="Assignments", exact=True).click()
    with cp.navigation():
        page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    with cp.navigation():
        page.get_by_role("button", name="Start", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tests/[^/]+/1$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Test 1 / 2")
    choose(page, right=right)
    with cp.navigation():
        page.get_by_role("button", name="Save and next").click()
    expect(page).to_have_url(re.compile(r"/tests/[^/]+/2(\?saved=1)?$"))
    choose(page, right=right)
    with cp.navigation():
        page.get_by_role("button", name=re.compile(r"^Review and finish")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Before you finish")
    with cp.navigation():
        page.get_by_role("button", name="Finish test").click()
    expect(page).to_have_url(re.compile(r"/tests/[^/]+/result$"))


def test_an_instructor_sets_an_assignment_two_learners_take_it_and_the_results_show(
    browsing: Browsing,
) -> None:
    run = uuid.uuid4().hex[:8]  # the live server's database is shared by the run's tests
    course, title = f"Sequences {run}", f"Bidirectional quiz {run}"
    teacher = instructor_with_course(browsing, f"teacher-{run}@example.org", course)
    link = teacher.page.locator("#join-link").inner_text()
    set_assignment(teacher, title)

    first, second = f"first-{run}@example.org", f"second-{run}@example.org"
    for email, right in ((first, True), (second, False)):
        cp = learner_joins(browsing, link, email, course)
        take_assignment(cp, title, right=right)
        score = cp.page.get_by_role("status")
        if right:
            expect(score).to_have_text(
                re.compile(r"You scored 2 of 2 points \(100%\): 2 of 2 questions fully correct")
            )
        else:
            expect(score).to_have_text(
                re.compile(r"You scored 0 of 2 points \(0%\): 0 of 2 questions fully correct")
            )
        verdict = "correct" if right else "incorrect"
        for n in (1, 2):
            expect(cp.page.get_by_role("heading", name=f"Question {n}: {verdict}")).to_be_visible()

    # The gradebook: one row per learner, by name (their email here), with their best grades.
    page = teacher.page
    with teacher.navigation():
        page.get_by_role("link", name=f"Gradebook of {title}").click()
    book = page.get_by_role("table", name=re.compile(rf"^Results of 2 learners in {title}\."))
    expect(book.get_by_role("rowheader")).to_have_text([first, second])
    for email, best in ((first, "100%"), (second, "0%")):
        row = book.get_by_role("row").filter(has=page.get_by_role("rowheader", name=email))
        expect(row.locator("td").nth(0)).to_have_text(email)
        expect(row.locator("td").nth(2)).to_have_text(best)  # Best
        expect(row.locator("td").nth(4)).to_have_text("—")  # no override
        expect(row.locator("td").nth(5)).to_have_text(best)  # Final grade
    statistics = page.get_by_role("link", name="Item statistics of this assignment")
    statistics_url = statistics.get_attribute("href")
    assert statistics_url, "the gradebook links to no statistics"

    with teacher.navigation():
        page.get_by_role("link", name=f"Attempt 1 of {first}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Attempt 1 of {first}")
    expect(page.locator(".attempt-facts")).to_contain_text(
        "2 of 2 points (100%), 2 of 2 questions fully correct"
    )
    for n in (1, 2):
        expect(page.get_by_role("heading", name=f"Question {n}: correct")).to_be_visible()

    # The statistics: the figures over both first attempts, and the plots as described SVG.
    teacher.goto(statistics_url)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Item statistics: {title}")
    figures = page.get_by_role("table", name="Test figures over 2 attempts (scores in percent)")
    expect(figures.get_by_role("row", name=re.compile(r"^Mean "))).to_contain_text("N = 2")
    per_question = page.get_by_role("table", name=re.compile(r"^Per question "))
    facility = per_question.locator("tbody tr td:nth-child(2)")  # one row per question
    expect(facility).to_have_count(len(QUESTIONS))
    for cell in facility.all():
        expect(cell).to_contain_text("N = 2")
    plots = page.locator("svg[role=img]")
    expect(plots.first).to_be_visible()
    assert plots.count() >= 3, f"{plots.count()} plots on the statistics page"
    expect(page.locator("svg[role=img] > title")).to_have_count(plots.count())
    histogram = page.locator("figure.chart").filter(has_text="Score histogram").first
    expect(histogram).to_contain_text("2 attempts by score in bins of 10 points")
    expect(histogram.locator("svg[role=img] > title")).to_have_text("Score histogram")
