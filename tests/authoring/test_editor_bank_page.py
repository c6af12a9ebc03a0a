"""The bank list page on both databases: every question with its type, tags, status and
verify result; search and filters; a copy from the shipped bank; bulk tag and retire by
ticked checkboxes; a refusal in words, never a 500."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.authoring import bank
from app.bank.verification.claim import Claim
from app.bank.verification.claim import Verification as VerifyResult
from tests.authoring.editor_support import Staff, shipped_of, staff_of_a_course


@pytest.fixture
def staff(app: FastAPI, db: Session) -> Staff:
    staff = staff_of_a_course(app, db)
    for kind in ("single_choice", "numeric"):
        bank.create_question(db, staff.course, shipped_of(kind), author_id=None, message="")
    db.flush()
    return staff


def rows(html: str) -> str:
    return html.split('class="bank-list"', 1)[1].split("</table>", 1)[0]


def test_the_bank_lists_each_question_with_type_status_and_verify_result(staff: Staff) -> None:
    page = staff.viewer.client.get(staff.url())
    assert page.status_code == 200
    listed = rows(page.text)
    assert shipped_of("single_choice").id in listed and shipped_of("numeric").id in listed
    assert "Single choice" in listed and "Numeric" in listed
    assert listed.count("<td>draft</td>") == 2
    assert listed.count("<td>not verified</td>") == 2
    assert 'name="selected"' not in listed  # a viewer has no bulk actions


def test_a_failed_verify_shows_as_claim_disagrees_with_torch(staff: Staff, db: Session) -> None:
    qid = shipped_of("numeric").id
    version = bank.version_of(db, bank.find_question(db, staff.course, qid))
    failed = Claim("answer", "6", "7", False, None, {}, "")
    result = VerifyResult(qid, [failed])
    bank.record_verification(db, version, result, seeds=20, torch="2", run_by=None)
    db.flush()
    listed = rows(staff.viewer.client.get(staff.url("?verified=failed")).text)
    assert qid in listed and "claim disagrees with torch" in listed
    assert shipped_of("single_choice").id not in listed


def test_filters_narrow_the_list_and_an_unknown_filter_value_is_ignored(staff: Staff) -> None:
    listed = rows(staff.viewer.client.get(staff.url("?type=numeric")).text)
    assert shipped_of("numeric").id in listed and shipped_of("single_choice").id not in listed
    text = shipped_of("single_choice").prompt.split()[2]
    listed = rows(staff.viewer.client.get(staff.url(f"?text={text}")).text)
    assert shipped_of("single_choice").id in listed
    odd = staff.viewer.client.get(staff.url("?difficulty=impossible&status=gone"))
    assert odd.status_code == 200 and shipped_of("numeric").id in rows(odd.text)


def test_copying_a_shipped_question_opens_it_in_the_editor_as_a_draft(staff: Staff) -> None:
    shipped = shipped_of("tensor_shape")
    copied = staff.editor.form(staff.url("/copy"), {"shipped": shipped.id})
    assert copied.status_code == 303
    assert copied.headers["location"].endswith(f"/bank/{shipped.id}?done=copied")
    again = staff.editor.form(staff.url("/copy"), {"shipped": shipped.id})
    assert again.status_code == 409 and "already" in again.text


def test_bulk_tag_then_retire_the_ticked_questions(staff: Staff, db: Session) -> None:
    ids = [shipped_of("single_choice").id, shipped_of("numeric").id]
    tagged = staff.editor.form(
        staff.url("/bulk"), {"selected": ids, "bulk": "tag", "tags": "week-one"}
    )
    assert tagged.status_code == 200 and "2 questions changed" in tagged.text
    assert rows(tagged.text).count("week-one") == 2
    retired = staff.editor.form(staff.url("/bulk"), {"selected": ids[:1], "bulk": "retire"})
    assert "Retired 1 questions." in retired.text
    assert bank.status_of(bank.find_question(db, staff.course, ids[0])).state == "retired"


def test_a_bulk_action_with_nothing_ticked_is_refused_in_words(staff: Staff) -> None:
    refused = staff.editor.form(staff.url("/bulk"), {"bulk": "retire"})
    assert refused.status_code == 409
    assert "tick at least one question first" in refused.text
