"""The experiment lab in a real browser: start a run, watch the curves fill, read the verdict."""

from __future__ import annotations

import re

import pytest
from browser_support import Browsing, CheckedPage
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_run_fills_its_curves_live_and_ends_with_a_verdict(checked_page: CheckedPage) -> None:
    cp, page = checked_page, checked_page.page
    cp.goto("/topics/birnn/lab?preset=solution")
    expect(page.get_by_role("heading", name="Train your own model")).to_be_visible()

    # The parameter count follows the form before anything runs.
    size = page.locator("#lab-size")
    expect(size).to_contain_text("15,493 parameters: 2.00x the baseline, within")
    page.get_by_label("Hidden size (per direction)").fill("128")
    expect(size).to_contain_text("47,365 parameters: 6.11x the baseline, over")
    page.get_by_label("Hidden size (per direction)").fill("64")
    expect(size).to_contain_text("15,493 parameters")
    cp.check("the live parameter count")

    # Hints appear one at a time.
    second = page.locator("details.hint").nth(1)
    expect(second).to_be_hidden()
    page.get_by_text("Hint 1").click()
    expect(second).to_be_visible()

    page.get_by_label("Seed (initial weights and dropout)").fill("5")
    page.evaluate("window.sameDocument = true")
    with cp.navigation():
        page.get_by_role("button", name="Train", exact=True).click()
    expect(page).to_have_url(re.compile(r"/lab/runs/[^/]+$"))
    page.evaluate("window.sameDocument = true")

    status = page.locator("#run-status")
    expect(status).to_contain_text(re.compile(r"Training: epoch \d+ of 20|Finished"))
    expect(status).to_contain_text("Finished", timeout=60_000)
    expect(status).to_contain_text(re.compile(r"The run (meets|does not meet) the task\."))
    expect(page.locator("#run-progress")).to_have_attribute("value", "20")
    expect(page.locator("figure.chart polyline")).to_have_count(2)
    expect(page.locator(".verdict-list li")).to_have_count(3)
    expect(page.locator(".verdict-list")).to_contain_text("Validation accuracy at least 85%")
    expect(page.locator(".cancel-form")).to_have_count(0)
    assert page.evaluate("window.sameDocument") is True, "the run page reloaded"
    cp.check("a finished run")

    cp.goto("/topics/birnn/lab")
    expect(page.get_by_role("table", name=re.compile("Your runs"))).to_contain_text("Run 1")


def test_the_lab_without_javascript(browsing: Browsing) -> None:
    cp = browsing.new_page(java_script_enabled=False)
    page = cp.page
    cp.goto("/topics/birnn/lab")
    page.get_by_label("Hidden size (per direction)").fill("200")
    page.get_by_label("Bidirectional").check()
    with cp.navigation():
        page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("model size")
    expect(page.get_by_label("Hidden size (per direction)")).to_have_value("200")
    expect(page.locator("details.hint").nth(2)).to_be_attached()


def test_a_run_is_followed_through_its_events_in_the_same_status_line(
    checked_page: CheckedPage,
) -> None:
    """htmx's sse extension swaps each "run" event in: the status text changes inside the same
    role="status" element (so the change is announced), and "end" removes the cancel form."""
    cp, page = checked_page, checked_page.page
    # Counted from the start of every document, before the page's own scripts run.
    page.add_init_script(
        "window.sseMessages = 0;"
        "addEventListener('htmx:sseMessage', () => { window.sseMessages += 1 }, true)"
    )
    cp.goto("/topics/birnn/lab?preset=baseline")
    page.get_by_label("Seed (initial weights and dropout)").fill("9")
    with page.expect_response(re.compile(r"/lab/runs/[^/]+$")) as served, cp.navigation():
        page.get_by_role("button", name="Train", exact=True).click()
    assert "sse-connect=" in served.value.text(), "the run had ended before its page was served"
    page.evaluate("window.statusLine = document.getElementById('run-status')")

    status = page.locator("#run-status")
    expect(status).to_contain_text("Finished", timeout=60_000)
    expect(page.locator("#run-progress")).to_have_attribute("value", "20")
    expect(page.locator(".cancel-form")).to_have_count(0)
    same = page.evaluate("document.getElementById('run-status') === window.statusLine")
    assert same, "the status line was replaced instead of updated"
    assert page.evaluate("window.sseMessages") >= 1
    expect(page.locator("#run-live #run-details")).to_have_count(1)  # replaced, not nested
    cp.check("a run followed to its end")
