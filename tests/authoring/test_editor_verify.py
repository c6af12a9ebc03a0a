"""Verify and publish from the editor, with the real runner on both databases: a claim that
holds passes and the question can be published; a false claim is shown beside what torch did,
named by field, and publishing is refused 409 next to the button."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.questions.models import QuestionRow
from tests.authoring.editor_support import Staff, staff_of_a_course

BROKEN = Path(__file__).resolve().parents[1] / "bank/broken/shape-off-by-one.yaml"
WRONG = BROKEN.read_text().replace("shape-off-by-one", "gru-h-n")
RIGHT = WRONG.replace("33", "32")


@pytest.fixture
def staff(app: FastAPI, db: Session) -> Staff:
    return staff_of_a_course(app, db)


def create_from_yaml(staff: Staff, source: str) -> str:
    created = staff.editor.form(staff.url("/new"), {"type": "tensor_shape", "source": source})
    assert created.status_code == 303, created.text
    return "gru-h-n"


def test_publishing_before_verify_is_refused_409_next_to_the_button(staff: Staff) -> None:
    qid = create_from_yaml(staff, RIGHT)
    page = staff.editor.client.get(staff.url(f"/{qid}"))
    assert "Publishing needs a passing verify of this version: verify it first." in page.text
    assert " disabled>Publish version 1</button>" in page.text
    refused = staff.editor.form(staff.url(f"/{qid}/publish"))
    assert refused.status_code == 409
    assert 'id="publish-problem"' in refused.text and "verify this version" in refused.text


def test_a_true_claim_verifies_then_publishes_and_the_page_shows_torchs_output(
    staff: Staff, db: Session
) -> None:
    qid = create_from_yaml(staff, RIGHT)
    verified = staff.editor.form(staff.url(f"/{qid}/verify"))
    assert verified.status_code == 303, verified.text
    assert verified.headers["location"].endswith("done=verified-passed")
    page = staff.editor.client.get(verified.headers["location"])
    assert "<strong>Passed:</strong>" in page.text
    assert '<th scope="row"><code>check' in page.text  # each claim named by its field
    assert "(2, 8, 32)" in page.text or "[2, 8, 32]" in page.text  # what torch did
    published = staff.editor.form(staff.url(f"/{qid}/publish"))
    assert published.status_code == 303
    page = staff.editor.client.get(published.headers["location"])
    assert "Published" in page.text and "Published: learners get this version" in page.text
    row = db.scalar(select(QuestionRow).where(QuestionRow.slug == qid))
    assert row is not None and row.published_version_id == row.current_version_id


def test_a_false_claim_is_shown_first_by_field_with_torchs_output_and_cannot_be_published(
    staff: Staff, db: Session
) -> None:
    qid = create_from_yaml(staff, WRONG)
    verified = staff.editor.form(staff.url(f"/{qid}/verify"))
    assert verified.headers["location"].endswith("done=verified-failed")
    page = staff.editor.client.get(verified.headers["location"])
    text = page.text
    assert "claim disagrees with torch" in text
    claims = text.split('class="claims"', 1)[1]
    first_row = claims.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert 'class="claim-failed"' in first_row  # failures first
    assert "33" in first_row and "32" in first_row  # the claim beside what torch did
    refused = staff.editor.form(staff.url(f"/{qid}/publish"))
    assert refused.status_code == 409
    assert "claim disagrees with torch" in refused.text
    row = db.scalar(select(QuestionRow).where(QuestionRow.slug == qid))
    assert row is not None and row.published_version_id is None


def test_a_viewer_may_not_verify(staff: Staff) -> None:
    qid = create_from_yaml(staff, RIGHT)
    assert staff.viewer.form(staff.url(f"/{qid}/verify")).status_code == 403
    assert staff.viewer.form(staff.url(f"/{qid}/publish")).status_code == 403


def test_retiring_keeps_the_history_and_says_so(staff: Staff) -> None:
    qid = create_from_yaml(staff, RIGHT)
    retired = staff.editor.form(staff.url(f"/{qid}/retire"))
    assert retired.status_code == 303
    page = staff.editor.client.get(retired.headers["location"])
    assert "Retired" in page.text
    assert staff.editor.client.get(staff.url(f"/{qid}/history")).status_code == 200
