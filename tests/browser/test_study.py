"""The study modes in a real browser, with the keyboard only (Tab, Shift+Tab, Enter, Space,
arrow keys, typing and Ctrl+Enter in a code box: no clicks and no element.focus()), and axe on
every page and every update in place: flashcards, spot the bug, worked examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from browser_support import Browsing, CheckedPage
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

BIRNN = Path(__file__).resolve().parents[2] / "questions" / "birnn"
BUG = yaml.safe_load((BIRNN / "bugs" / "last-step-as-summary.yaml").read_text(encoding="utf-8"))
SERIES = yaml.safe_load(
    (BIRNN / "worked" / "count-bidirectional-parameters.yaml").read_text(encoding="utf-8")
)


def tab_to(page: Page, selector: str, *, limit: int = 80) -> None:
    """Press Tab until the focused element matches `selector`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
    pytest.fail(f"{limit} presses of Tab never reached {selector}")


def test_flashcards_with_the_keyboard_show_the_answer_in_place_and_move_on(
    checked_page: CheckedPage,
) -> None:
    cp, page = checked_page, checked_page.page
    cp.goto("/topics/birnn/flashcards")
    heading = page.get_by_role("heading", name=re.compile(r"^Card 1 of \d+$"))
    expect(heading).to_be_visible()
    total = int(heading.inner_text().split()[-1])
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    tab_to(page, "button[type=submit]")
    expect(page.get_by_role("button", name="Show answer")).to_be_focused()
    page.keyboard.press("Enter")
    back = page.locator("#card-back")
    expect(back).to_be_focused()  # static/js/study.js: the button is gone, focus goes on here
    expect(back.get_by_role("heading", name="Answer")).to_be_visible()
    expect(back.get_by_role("link")).to_have_attribute("href", re.compile(r"/learn#:~:text="))
    assert page.evaluate("window.sameDocument") is True
    expect(page).to_have_url(re.compile(r"show=true"))
    cp.check("answer shown in place")

    tab_to(page, ".mark-card a")
    expect(page.get_by_role("link", name="Knew it")).to_be_focused()
    with cp.navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Card 2 of {total}")).to_be_visible()
    expect(
        page.get_by_text("So far: you knew 1 and marked 0 “not yet”, of 1 card done.")
    ).to_be_visible()

    # "Not yet" on the second card: Tab to Show answer, then past "Knew it" to "Not yet".
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#card-back")).to_be_focused()
    tab_to(page, ".mark-card a.secondary")
    with cp.navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"card=3&marks=10$"))
    expect(page.get_by_text("you knew 1 and marked 1 “not yet”, of 2 cards done")).to_be_visible()


def test_flashcards_without_javascript_show_the_answer_on_a_new_page(browsing: Browsing) -> None:
    cp = browsing.new_page(java_script_enabled=False)
    page = cp.page
    cp.goto("/topics/birnn/flashcards?card=2&marks=0")
    tab_to(page, "button[type=submit]")
    with cp.navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"card=2&marks=0&show=true"))
    expect(page.locator("#card-back")).to_be_visible()
    expect(page.get_by_role("link", name="Knew it")).to_have_attribute(
        "href", re.compile(r"card=3&marks=01$")
    )


def test_spot_the_bug_with_the_keyboard_pick_the_line_then_fix_it(
    checked_page: CheckedPage,
) -> None:
    cp, page = checked_page, checked_page.page
    cp.goto("/topics/birnn/bugs")
    tab_to(page, 'a[href="/topics/birnn/bugs/last-step-as-summary"]')
    with cp.navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(BUG["title"])
    lines = page.locator("ol.code-lines > li")
    expect(lines).to_have_count(len(BUG["code"].rstrip("\n").split("\n")))
    page.evaluate("window.sameDocument = true")

    # Step 1: into the radio group (Space picks line 1), down to line 7, and check it: wrong.
    tab_to(page, "#line-1")
    page.keyboard.press("Space")
    for _ in range(6):
        page.keyboard.press("ArrowDown")
    expect(page.get_by_label(re.compile(r"^Line 7:"))).to_be_checked()
    tab_to(page, "#line-step button[type=submit]")
    page.keyboard.press("Enter")
    verdict = page.locator("#line-verdict[role=status]")
    expect(verdict).to_contain_text("Incorrect. Not line 7: that line is fine.")
    expect(page.locator("#line-explanation")).to_be_empty()
    cp.check("wrong line")

    # Back into the group with Shift+Tab, one down to line 8: right, with the explanation.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label(re.compile(r"^Line 8:"))).to_be_checked()
    tab_to(page, "#line-step button[type=submit]")
    page.keyboard.press("Enter")
    expect(verdict).to_contain_text("Correct. Right: line 8 is the defective line.")
    expect(verdict).to_have_class(re.compile(r"\bverdict-box-correct\b"))
    expect(page.get_by_role("heading", name="Why line 8 is wrong")).to_be_visible()
    assert page.evaluate("window.sameDocument") is True
    cp.check("right line, explained")

    # Step 2: in the code box, replace line 8 by typing, and run the tests with Ctrl+Enter.
    tab_to(page, "#fix-code")
    page.keyboard.press("Control+End")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type("summary = torch.cat([h_n[-2], h_n[-1]], dim=1)")
    with cp.navigation():
        page.keyboard.press("Control+Enter")
    total = len(BUG["tests"])
    fixed = page.locator("#fix-verdict[role=status]")
    expect(fixed).to_contain_text(f"Fixed. {total} of {total} hidden tests passed.")
    report = page.get_by_role("table", name="Hidden tests")
    expect(report.get_by_role("cell", name="Passed", exact=True)).to_have_count(total)
    # The line found in step 1 is kept across the fix's post.
    expect(page.locator("#line-verdict")).to_contain_text("Right: line 8")


def test_worked_examples_with_the_keyboard_answer_the_faded_steps(
    checked_page: CheckedPage,
) -> None:
    cp, page = checked_page, checked_page.page
    cp.goto("/topics/birnn/worked")
    tab_to(page, 'a[href="/topics/birnn/worked/count-bidirectional-parameters/3"]')
    with cp.navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_text("The last 2 steps are yours.")).to_be_visible()

    claims = SERIES["problems"][2]["check"]["expect"]["values"]
    tab_to(page, "#step-2-answer")
    page.keyboard.type(str(claims["per_direction"]))
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your answer to step 3")).to_be_focused()
    page.keyboard.type(str(claims["total"] + 1))
    with cp.navigation():
        page.keyboard.press("Enter")
    results = page.locator("#step-results[role=status]")
    expect(results).to_contain_text("1 of 2 steps right.")
    expect(page.locator("#step-2-result")).to_have_text(
        f"Step 2: correct (you answered {claims['per_direction']})."
    )
    expect(page.locator("#step-3-result")).to_have_text(
        f"Step 3: not right yet (you answered {claims['total'] + 1})."
    )
    expect(page.get_by_label("Your answer to step 3")).to_have_value(str(claims["total"] + 1))

    # The worked step opens from the keyboard, then the right answer is accepted.
    tab_to(page, ".worked-steps summary")
    expect(page.locator(".worked-steps summary")).to_have_text("Show step 3 worked")
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"count, {claims['total']}.")).to_be_visible()
    cp.check("worked step shown")
    tab_to(page, "#step-3-answer")
    page.keyboard.press("Control+A")
    page.keyboard.type(str(claims["total"]))
    with cp.navigation():
        page.keyboard.press("Enter")
    expect(results).to_contain_text("2 of 2 steps right.")


def test_study_pages_fit_a_phone_without_scrolling_sideways(browsing: Browsing) -> None:
    cp = browsing.new_page(viewport={"width": 375, "height": 740})
    page = cp.page
    wide = {}
    for url in (
        "/topics/birnn/flashcards?card=10&marks=110011011&show=true",
        "/topics/birnn/bugs",
        "/topics/birnn/bugs/pack-lengths-padded-width?line=9",
        "/topics/birnn/worked",
        "/topics/birnn/worked/reading-h-n/3?step=2&answer=(2,4,5)&step=3&answer=h_n[0]",
    ):
        cp.goto(url)
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            wide[url] = overflow
    assert not wide, f"study pages wider than the phone, by (px): {wide}"
