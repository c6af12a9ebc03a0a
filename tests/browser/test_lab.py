"""The experiment lab in a real browser: start a run, watch the curves fill, read the verdict."""

from __future__ import annotations

import re

import pytest
from browser_support import Browsing, CheckedPage
from playwright.sync_api import Page, expect

from app.lab import service
from app.lab.running import Lab

pytestmark = pytest.mark.browser


def test_a_run_fills_its_curves_live_and_ends_with_a_verdict(checked_page: CheckedPage) -> None:
    """Also (once a test of its own, test_running's, which opened the same page): a live
    preview never puts the CSRF token in an address. The lab's form posts (with its CSRF token)
    to start a run; its live model size is a GET beside it, whose address must not carry the
    token (addresses end up in logs and history); nor may the playground's."""
    cp, page = checked_page, checked_page.page
    addresses: list[str] = []
    page.on("request", lambda request: addresses.append(request.url))
    cp.goto("/topics/birnn/lab?preset=solution")
    expect(page.get_by_role("heading", name="Train your own model")).to_be_visible()
    assert page.locator(".playground-form.lab-form input[name=csrf_token]").count() == 1

    # The parameter count follows the form before anything runs, asked for with a GET.
    size = page.locator("#lab-size")
    expect(size).to_contain_text("15,493 parameters: 2.00x the baseline, within")
    with page.expect_request(lambda r: "hidden_size=128" in r.url) as preview:
        page.get_by_label("Hidden size (per direction)").fill("128")
    assert preview.value.method == "GET"
    assert preview.value.headers.get("hx-request") == "true"
    assert "cell=" in preview.value.url and "bidirectional=on" in preview.value.url
    expect(size).to_contain_text("47,365 parameters: 6.11x the baseline, over")
    cp.check("the model size after a change")
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
    expect(page.locator(".chart-pair figure.chart")).to_have_count(2)  # accuracy and loss
    expect(page.locator("figure.chart polyline")).to_have_count(4)  # training and validation
    expect(page.locator("#run-details")).to_contain_text("Loss (cross-entropy) per epoch")
    expect(page.locator(".verdict-list li")).to_have_count(3)
    expect(page.locator(".verdict-list")).to_contain_text("Validation accuracy at least 85%")
    expect(page.locator(".cancel-form")).to_have_count(0)
    assert page.evaluate("window.sameDocument") is True, "the run page reloaded"
    cp.check("a finished run")

    cp.goto("/topics/birnn/lab")
    expect(page.get_by_role("table", name=re.compile("Your runs"))).to_contain_text("Run 1")

    cp.goto("/playground")
    page.get_by_label("hidden_size").fill("8")
    expect(page).to_have_url(re.compile(r"hidden_size=8"))
    assert [url for url in addresses if "csrf_token" in url] == []
    assert "csrf_token" not in page.url


def test_the_lab_without_javascript(browsing: Browsing) -> None:
    cp = browsing.new_page(java_script_enabled=False)
    page = cp.page
    cp.goto("/topics/birnn/lab")
    page.get_by_label("Hidden size (per direction)").fill("200")
    page.get_by_label("Bidirectional").check()
    with cp.navigation():
        page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("model size")
    expect(page.get_by_role("alert")).to_be_focused()  # where the learner is looking
    expect(page).to_have_url(re.compile(r"#run-form-problems$"))
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


BIG_MODEL = """from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(50, 128, num_layers=2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(256, 5)

    def forward(self, words):
        return self.out(self.rnn(words)[0][:, -1])
"""


TINY_PRINTING_MODEL = """from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(50, 5)
        print("a linear model over the mean word")

    def forward(self, words):
        return self.out(words.mean(dim=1))
"""


def test_refusals_come_in_place_and_own_models_are_judged_and_show_what_they_print(
    checked_page: CheckedPage,
) -> None:
    """One visit of the lab page for what three tests each opened it for:
    - a refusal appears in place beside its button and takes focus (a model too big, then
      empty code), the page not reloaded, the learner's values kept;
    - your own model is judged once built (refused for its size, with its count), and is still
      in the editor back on the experiment page;
    - what your model prints shows with its run."""
    cp, page = checked_page, checked_page.page
    cp.goto("/topics/birnn/lab")
    page.evaluate("window.sameDocument = true")
    page.get_by_label("Hidden size (per direction)").fill("200")
    page.get_by_label("Bidirectional").check()
    page.get_by_role("button", name="Train", exact=True).click()
    alert = page.locator("#run-form-problems")
    expect(alert).to_contain_text("model size")
    expect(alert).to_be_focused()
    expect(alert).to_be_in_viewport()
    expect(page.get_by_label("Hidden size (per direction)")).to_have_value("200")
    cp.check("a refused run, in place")

    page.get_by_label("Your model (Python)").fill("")
    page.get_by_role("button", name="Train my model").click()
    refused = page.locator("#code-form-problems")
    expect(refused).to_contain_text("write a model class named Model")
    expect(refused).not_to_contain_text("pydantic")
    expect(refused).to_be_focused()
    assert page.evaluate("window.sameDocument") is True, "the page reloaded"
    cp.check("empty code, refused in place")

    # Your own model, judged once built.
    page.get_by_label("Your model (Python)").fill(BIG_MODEL)
    with cp.navigation():
        page.get_by_role("button", name="Train my model").click()
    expect(page).to_have_url(re.compile(r"/lab/runs/[^/]+$"))
    status = page.locator("#run-status")
    expect(status).to_contain_text(
        "Not trained: this run breaks the task's constraint on model size", timeout=15_000
    )
    expect(status).to_contain_text(re.compile(r"\d{3},\d{3} parameters is more than 2.5 times"))
    cp.check("an own model refused once built")

    with cp.navigation():
        page.get_by_role("link", name=re.compile("Back to the experiment")).click()
    expect(page.get_by_label("Your model (Python)")).to_have_value(BIG_MODEL)

    # What your model prints.
    page.get_by_label("Your model (Python)").fill(TINY_PRINTING_MODEL)
    page.get_by_label("Judge against the task", exact=True).last.uncheck()
    with cp.navigation():
        page.get_by_role("button", name="Train my model").click()
    expect(page.locator("#run-status")).to_contain_text("Finished", timeout=60_000)
    printed = page.get_by_role("region", name="What your model printed")
    expect(printed).to_have_text("a linear model over the mean word")
    cp.check("a run with its output")


def chart_boxes(page: Page, pair: str) -> list[dict[str, float]]:
    figures = page.locator(f"{pair} figure.chart")
    expect(figures).to_have_count(2)
    return [figures.nth(i).bounding_box() or {} for i in range(2)]


def test_accuracy_and_loss_sit_side_by_side_and_stack_on_a_phone(browsing: Browsing) -> None:
    cp = browsing.new_page(viewport={"width": 1280, "height": 900})
    cp.goto("/topics/birnn/lab")
    accuracy, loss = chart_boxes(cp.page, "#before-after .chart-pair")
    assert accuracy["y"] == loss["y"] and loss["x"] >= accuracy["x"] + accuracy["width"]
    expect(cp.page.locator("#before-after")).to_contain_text("Loss (cross-entropy) per epoch")

    phone = browsing.new_page(viewport={"width": 375, "height": 740})
    phone.goto("/topics/birnn/lab")
    accuracy, loss = chart_boxes(phone.page, "#before-after .chart-pair")
    assert loss["y"] >= accuracy["y"] + accuracy["height"], "one under the other"
    assert phone.page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0


def test_the_page_shows_the_reference_runs_as_they_arrive(
    checked_page: CheckedPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While they are measured (at start-up, in the background) the page asks for them again
    every few seconds and shows them once there, without a reload."""
    cp, page = checked_page, checked_page.page
    real = service.reference_figures
    monkeypatch.setattr(Lab, "measure_references", lambda self: None)
    monkeypatch.setattr(
        service, "reference_figures", lambda db, torch: {"baseline": real(db, torch)["baseline"]}
    )
    cp.goto("/topics/birnn/lab")
    page.evaluate("window.sameDocument = true")
    progress = page.locator("#references-progress")
    expect(progress).to_contain_text("1 of 5 models done")
    expect(page.locator("#before-after")).to_contain_text("Being measured")

    monkeypatch.setattr(service, "reference_figures", real)  # the last runs have arrived
    expect(progress).to_contain_text("Measured on this server", timeout=10_000)
    expect(page.locator("#before-after table.runs")).to_contain_text("Solution")
    expect(page.locator("#readout-choice table.runs")).to_be_visible()
    assert page.evaluate("window.sameDocument") is True, "the page reloaded"
    cp.check("the reference runs, arrived")
