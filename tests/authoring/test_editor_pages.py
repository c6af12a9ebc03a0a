"""The editor's pages on both databases: create a question with the form, save new versions,
the YAML source both ways, problems inline with the loader's messages, a stale save answered
409 with the diff, rows added without JavaScript, and history with diffs and revert."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.authoring import editor
from app.questions.models import QuestionRow, QuestionVersion
from tests.authoring.editor_support import Staff, form_data, hidden, shipped_of, staff_of_a_course


@pytest.fixture
def staff(app: FastAPI, db: Session) -> Staff:
    return staff_of_a_course(app, db)


def create(staff: Staff, **changes: str) -> str:
    question = shipped_of("single_choice")
    data = form_data(question, id="my-question", **changes)
    answer = staff.editor.form(staff.url("/new"), {**data, "message": "first"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith("/bank/my-question?done=created")
    return "my-question"


def versions(db: Session) -> int:
    query = (
        select(func.count())
        .select_from(QuestionVersion)
        .join(QuestionRow, QuestionRow.id == QuestionVersion.question_id)
        .where(QuestionRow.course_id.is_not(None))
    )
    return db.scalar(query) or 0


def test_a_new_question_form_has_an_input_for_each_field_of_its_type(staff: Staff) -> None:
    page = staff.editor.client.get(staff.url("/new?type=code"))
    assert page.status_code == 200
    for name in (
        "starter",
        "solution_code",
        "samples.0.expect",
        "tests.0.code",
        "buggy_solutions.0.why",
        "check.code",
        "hints.0",
    ):
        assert f'name="{name}"' in page.text, name
    page = staff.editor.client.get(staff.url("/new?type=numeric"))
    for name in (
        "answer.value",
        "answer.tolerance",
        "unit",
        "variants.params.0.name",
        "wrong_answers.0.feedback",
    ):
        assert f'name="{name}"' in page.text, name


def test_an_editor_creates_a_question_with_the_form_and_sees_it_as_a_draft(
    staff: Staff, db: Session
) -> None:
    qid = create(staff)
    page = staff.editor.client.get(staff.url(f"/{qid}?done=created"))
    assert page.status_code == 200
    assert "Question created as a draft" in page.text
    assert "Draft (learners do not see it)" in page.text
    assert "version 1" in page.text
    row = db.scalar(select(QuestionRow).where(QuestionRow.slug == qid))
    assert row is not None and row.course_id == staff.course.id


def test_saving_the_form_makes_a_new_version_and_stays_on_the_editor(
    staff: Staff, db: Session
) -> None:
    qid = create(staff)
    page = staff.editor.client.get(staff.url(f"/{qid}"))
    data = form_data(shipped_of("single_choice"), id=qid, prompt="A new prompt?")
    answer = staff.editor.form(
        staff.url(f"/{qid}"),
        {**data, "base_version_id": hidden(page.text, "base_version_id"), "message": "reworded"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"].endswith(f"/bank/{qid}?done=saved")
    page = staff.editor.client.get(answer.headers["location"])
    assert "version 2" in page.text and "A new prompt?" in page.text


def test_a_form_with_problems_is_shown_again_with_the_loader_messages_next_to_their_inputs(
    staff: Staff, db: Session
) -> None:
    before = versions(db)
    data = form_data(shipped_of("single_choice"), id="Bad Id", **{"options.0.text": ""})
    answer = staff.editor.form(staff.url("/new"), data)
    assert answer.status_code == 422
    html = answer.text
    assert 'id="f-options-0-text-problem1"' in html
    assert 'aria-invalid="true"' in html
    assert "String should match pattern" in html  # the id, as `torchquiz questions check` says
    assert 'href="#f-id"' in html and 'href="#f-options-0-text"' in html  # the summary links
    assert 'value="Bad Id"' in html  # what was typed is kept
    assert versions(db) == before


def test_a_stale_save_is_refused_409_with_the_diff_and_links_to_both_versions(
    staff: Staff, db: Session
) -> None:
    qid = create(staff)
    page = staff.editor.client.get(staff.url(f"/{qid}"))
    base = hidden(page.text, "base_version_id")
    question = shipped_of("single_choice")
    first = staff.editor.form(
        staff.url(f"/{qid}"),
        {**form_data(question, id=qid, prompt="Mine first?"), "base_version_id": base},
    )
    assert first.status_code == 303
    second = staff.editor.form(
        staff.url(f"/{qid}"),
        {**form_data(question, id=qid, prompt="Theirs second?"), "base_version_id": base},
    )
    assert second.status_code == 409
    assert "saved by someone else" in second.text
    assert "removed:" in second.text and "added:" in second.text
    assert "Mine first?" in second.text
    assert f"/bank/{qid}/history" in second.text
    assert versions(db) == 2


def test_add_another_shows_the_form_again_with_one_more_empty_row_and_saves_nothing(
    staff: Staff, db: Session
) -> None:
    data = form_data(shipped_of("single_choice"), id="rows")
    count = sum(1 for k in data if k.startswith("hints."))
    answer = staff.editor.form(staff.url("/new"), {**data, "action": "add:hints"})
    assert answer.status_code == 200
    assert f'name="hints.{count}"' in answer.text
    assert f"Remove hint {count + 1}" in answer.text
    assert versions(db) == 0


def test_the_yaml_source_taken_over_becomes_the_form(staff: Staff) -> None:
    question = shipped_of("tensor_shape")
    source = editor.yaml_of(question).replace(question.prompt.splitlines()[0], "Edited in YAML?")
    answer = staff.editor.form(
        staff.url("/new"), {"type": "tensor_shape", "source": source, "action": "yaml"}
    )
    assert answer.status_code == 200
    assert "Edited in YAML?" in answer.text.split('id="source-panel"')[0]


def test_the_convert_endpoint_gives_the_yaml_of_the_form_and_the_form_of_the_yaml(
    staff: Staff,
) -> None:
    question = shipped_of("numeric")
    to_yaml = staff.viewer.form(staff.url("/new/convert"), {**form_data(question), "to": "yaml"})
    assert to_yaml.status_code == 200
    source = to_yaml.text.split('id="f-source"', 1)[1].split("</textarea>", 1)[0]
    assert f"\nid: {question.id}\n" in source
    assert "to: yaml" not in source  # the request's own fields are not the question's
    source = editor.yaml_of(question).replace(f"id: {question.id}", "id: from-yaml")
    assert "from-yaml" in source
    to_form = staff.viewer.form(
        staff.url("/new/convert"), {"type": "numeric", "to": "form", "source": source}
    )
    assert 'name="id" type="text" value="from-yaml"' in to_form.text


def test_invalid_yaml_in_the_source_tab_is_reported_and_nothing_is_saved(
    staff: Staff, db: Session
) -> None:
    answer = staff.editor.form(
        staff.url("/new"), {"type": "numeric", "source": "id: [unclosed", "action": "yaml"}
    )
    assert answer.status_code == 422
    assert "YAML syntax error" in answer.text
    assert versions(db) == 0


def test_history_lists_versions_newest_first_diffs_two_and_reverts(
    staff: Staff, db: Session
) -> None:
    qid = create(staff)
    page = staff.editor.client.get(staff.url(f"/{qid}"))
    data = form_data(shipped_of("single_choice"), id=qid, prompt="Second prompt?")
    staff.editor.form(
        staff.url(f"/{qid}"),
        {**data, "base_version_id": hidden(page.text, "base_version_id"), "message": "second"},
    )
    history = staff.viewer.client.get(staff.url(f"/{qid}/history"))
    assert history.status_code == 200
    text = history.text
    assert text.index("<td>second</td>") < text.index("<td>first</td>")
    assert "Editor" in text  # the author
    diff = staff.viewer.client.get(staff.url(f"/{qid}/history?a=1&b=2"))
    assert "removed:" in diff.text and "added:" in diff.text and "Second prompt?" in diff.text
    reverted = staff.editor.form(staff.url(f"/{qid}/revert"), {"number": "1"})
    assert reverted.status_code == 303
    page = staff.editor.client.get(staff.url(f"/{qid}"))
    assert (
        "version 1" in page.text and "Second prompt?" not in page.text.split('id="source-panel"')[0]
    )


def test_a_viewer_sees_the_editor_but_cannot_save(staff: Staff) -> None:
    qid = create(staff)
    page = staff.viewer.client.get(staff.url(f"/{qid}"))
    assert page.status_code == 200
    assert "changing it needs the course content role editor" in page.text
    data = form_data(shipped_of("single_choice"), id=qid)
    refused = staff.viewer.form(
        staff.url(f"/{qid}"), {**data, "base_version_id": hidden(page.text, "base_version_id")}
    )
    assert refused.status_code == 403


@pytest.mark.parametrize("kind", editor.TYPES)
def test_every_problem_of_an_empty_form_links_to_an_input_or_group_on_the_page(
    staff: Staff, kind: str
) -> None:
    answer = staff.editor.form(staff.url("/new"), {"type": kind})
    assert answer.status_code == 422
    summary = answer.text.split('id="problem-summary"', 1)[1].split("</section>", 1)[0]
    links = re.findall(r'href="#([^"]+)"', summary)
    assert len(links) == summary.count("<li>")  # each problem names a place on the page
    for target in links:
        assert f'id="{target}"' in answer.text, target
