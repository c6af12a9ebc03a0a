"""The question editor in a real browser, with axe on every page: an instructor creates a
course and a single-choice question in the editor, sees the preview follow the prompt as it is
typed (within a second), verifies it against real torch (the claims table shows what torch
did), publishes it; a learner of the course then practises it and answers it."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from browser_support import Browsing, instructor_with_course, sign_up
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
PROMPT = "What is the shape of `torch.zeros(2, 3).T`?"


def fill(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.locator(f'[name="{name}"]').fill(value)


def write_question(page: Page) -> None:
    """Every required field but the prompt, typed last to watch the preview follow it."""
    fill(
        page,
        {
            "id": "transpose-shape",
            "tags": "shapes, transpose",
            "options.0.text": "(3, 2)",
            "options.0.feedback": "`.T` reverses the dimensions.",
            "options.0.outcome": "{shapes: {y: [3, 2]}}",
            "options.1.text": "(2, 3)",
            "options.1.feedback": "That is the shape before transposing.",
            "options.1.outcome": "{shapes: {y: [2, 3]}}",
            "hints.0": "What does `.T` do to a 2-D tensor?",
            "solution_steps.0.title": "Transpose",
            "solution_steps.0.body": "The two dimensions swap: (3, 2).",
            "final_answer": "(3, 2)",
            "quick_check": "What is `torch.zeros(4, 1).T.shape`?",
            "common_mistakes.0": "Reading the shape before the transpose.",
            "check.code": "import torch\ny = torch.zeros(2, 3).T",
            "check.expect": "{shapes: {y: [3, 2]}}",
        },
    )
    page.locator('[name="difficulty"]').select_option("easy")
    page.locator('[name="options.0.correct"]').check()


def test_an_instructor_writes_verifies_and_publishes_a_question_that_a_learner_answers(
    browsing: Browsing,
) -> None:
    run = uuid.uuid4().hex[:8]
    teacher = instructor_with_course(browsing, f"author-{run}@example.org", f"Editing {run}")
    page = teacher.page
    slug = f"editing-{run}"
    code = page.locator("#join-code").inner_text()

    teacher.goto(f"/courses/{slug}/bank")
    page.get_by_label("Type of the new question").select_option("single_choice")
    with teacher.navigation():
        page.get_by_role("button", name="New question").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New single choice question")

    write_question(page)
    started = time.monotonic()
    page.locator('[name="prompt"]').fill(PROMPT)
    expect(page.locator("#preview .prompt")).to_contain_text("torch.zeros(2, 3).T", timeout=1000)
    assert time.monotonic() - started < 1.0
    expect(page.locator("#preview")).to_contain_text("As a learner sees it, in practice mode")
    teacher.check("the live preview")

    page.get_by_role("tab", name="Source (YAML)").click()
    source = page.locator('[name="source"]')
    expect(source).to_be_visible()
    expect(source).to_have_value(re.compile(r"id: transpose-shape"))
    expect(page.locator('[name="prompt"]')).to_be_hidden()
    teacher.check("the source tab")
    source.fill(source.input_value().replace("tags:\n- shapes", "tags:\n- matrices"))
    page.get_by_role("tab", name="Form").click()
    expect(page.locator('[name="tags"]')).to_have_value("matrices, transpose")

    page.get_by_label("What changed (for the history)").fill("first draft")
    with teacher.navigation():
        page.get_by_role("button", name="Create the question").click()
    expect(page.get_by_role("status").first).to_contain_text("Question created as a draft")
    expect(page.get_by_role("button", name="Publish version 1")).to_be_disabled()

    with teacher.navigation():
        page.get_by_role("button", name="Verify version 1").click()
    expect(page.locator("#verify-result")).to_contain_text("Passed:")
    claims = page.get_by_role("table", name=re.compile("^Claims of version 1"))
    expect(claims).to_contain_text("(3, 2)")  # what torch did with the check
    with teacher.navigation():
        page.get_by_role("button", name="Publish version 1").click()
    expect(page.get_by_role("status").first).to_contain_text("Published: learners get")

    learner = browsing.new_page()
    learner.goto(f"/account/sign-up?next=/courses/join/{code}")
    sign_up(learner, f"reader-{run}@example.org")
    lpage = learner.page
    with learner.navigation():
        lpage.get_by_role("button", name=f"Join Editing {run}").click()
    with learner.navigation():
        lpage.get_by_role("button", name="Practice the course's questions").click()
    expect(lpage.locator(".prompt")).to_contain_text("torch.zeros(2, 3).T")
    lpage.get_by_label(re.compile(r"\(3, 2\)")).check()
    lpage.get_by_role("button", name="Check answer").click()
    expect(lpage.locator("#verdict")).to_contain_text("Correct.")
    learner.check("the verdict")
