"""The editor's live preview on both databases: the learner's view of a draft, by seed and mode,
made with the learners' own templates; it records nothing; a template (a question with
variants) gets its answer for the seed from torch in the runner, and says so when the runner
cannot run."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.attempts.models import Answer, QuizSession
from app.bank.variants import draw
from app.questions.models import QuestionVersion
from tests.authoring.editor_support import Staff, form_data, shipped_of, staff_of_a_course


@pytest.fixture
def staff(app: FastAPI, db: Session) -> Staff:
    return staff_of_a_course(app, db)


def counts(db: Session) -> tuple[int, ...]:
    db.expire_all()
    tables = (Answer, QuizSession, QuestionVersion)
    return tuple(db.scalar(select(func.count()).select_from(t)) or 0 for t in tables)


def preview(staff: Staff, data: dict[str, Any], qid: str = "new", **settings: str) -> Any:
    controls = {f"preview_{k}": v for k, v in settings.items()}
    return staff.viewer.form(staff.url(f"/{qid}/preview"), {**data, **controls})


def panel(html: str) -> str:
    return html.split('id="preview"', 1)[1].split('id="verify"', 1)[0]


def test_a_preview_shows_the_learners_view_grades_an_answer_and_records_nothing(
    staff: Staff, db: Session
) -> None:
    question = shipped_of("single_choice")
    before = counts(db)
    answer = preview(
        staff, form_data(question), seed="7", answer="A", hints="1", solution="on", fill="on"
    )
    assert answer.status_code == 200
    shown = panel(answer.text)
    assert "As a learner sees it, in practice mode" in shown
    assert 'class="prompt"' in shown and "Choose one answer" in shown  # attempts' partials
    assert "Hint 1 of" in shown
    assert "Correct." in shown or "Incorrect." in shown
    assert "Why each option is right or wrong" in shown  # the learners' explanation
    assert "Version hash of this content" in shown and 'id="preview-seed-shown">7<' in shown
    assert counts(db) == before


def test_the_same_seed_shows_the_options_in_the_same_order_and_fill_ticks_the_key(
    staff: Staff,
) -> None:
    data = form_data(shipped_of("single_choice"))
    first = panel(preview(staff, data, seed="11", fill="on").text)
    again = panel(preview(staff, data, seed="11", fill="on").text)
    assert first == again
    correct = first.split('id="preview-correct">', 1)[1].split("<", 1)[0]
    assert f'id="option-{correct}" value="{correct}" data-key' in first
    assert (
        f'value="{correct}" data-key="{"ABCDEFG".index(correct) + 1}"\n           checked' in first
    )


def test_test_mode_shows_neither_hints_nor_solution_nor_a_verdict(staff: Staff) -> None:
    data = form_data(shipped_of("numeric"))
    shown = panel(preview(staff, data, mode="test", hints="2", solution="on", answer="3").text)
    assert "in test mode" in shown
    assert "Hint 1 of" not in shown and "Solution, step by step" not in shown
    assert "Correct." not in shown and "Incorrect." not in shown


def test_an_unreadable_answer_is_reported_as_a_learner_would_see_it(staff: Staff) -> None:
    data = form_data(shipped_of("tensor_shape"))
    shown = panel(preview(staff, data, answer="not a shape").text)
    assert "Cannot read that answer" in shown


def test_a_form_with_problems_is_not_previewed_and_says_why(staff: Staff) -> None:
    data = form_data(shipped_of("single_choice"), prompt="")
    answer = preview(staff, data)
    assert answer.status_code == 200
    assert "Not previewed: the form has 1 problem" in answer.text


def test_a_template_copied_from_the_shipped_bank_previews_with_torchs_answer_for_the_seed(
    staff: Staff, db: Session
) -> None:
    template = shipped_of("tensor_shape", template=True)
    copied = staff.editor.form(staff.url("/copy"), {"shipped": template.id})
    assert copied.status_code == 303
    before = counts(db)
    answer = preview(staff, form_data(template), qid=template.id, seed="5", fill="on")
    shown = panel(answer.text)
    values = draw(template, 5)
    for name, value in values.items():
        assert f"<code>{name}={value}</code>" in shown
    assert 'id="preview-correct">(' in shown  # a shape, computed by torch
    assert "cannot run now" not in shown
    assert counts(db) == before


def test_a_template_says_the_runner_cannot_run_when_it_is_off_never_a_500(
    staff: Staff, app: FastAPI
) -> None:
    # Not monkeypatch: its undo deletes a Starlette State's attribute instead of restoring it,
    # and the app is shared by every test of this process.
    runner, app.state.runner = app.state.runner, None
    try:
        answered_without_runner(staff)
    finally:
        app.state.runner = runner


def answered_without_runner(staff: Staff) -> None:
    template = (
        shipped_of("numeric", template=True)
        if any(q.type == "numeric" and q.variants for q in [shipped_of("numeric")])
        else shipped_of("tensor_shape", template=True)
    )
    answer = preview(staff, form_data(template), seed="2")
    assert answer.status_code == 200
    assert "computed by torch" in panel(answer.text)
    assert 'id="preview-correct"' not in panel(answer.text)


def test_the_editor_page_shows_a_preview_without_javascript(staff: Staff) -> None:
    page = staff.editor.client.get(staff.url("/new?type=single_choice"))
    assert "Press Preview" in page.text or "Not previewed" in page.text
