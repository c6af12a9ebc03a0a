"""Verify and publish over the course-bank API, against real torch in the test app's runner:
verify results attach to the version they checked, publishing needs a passing verify of the
newest version, and drafts never reach learners. On both databases."""

from __future__ import annotations

from typing import Literal

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.authoring import bank
from app.courses.models import Course
from app.questions.catalog import served_questions
from app.questions.models import Verification
from app.runner.client import RunnerState
from tests.authoring.test_bank_api import GOOD_YAML, WRONG_YAML, Bank, editor_bank

__all__ = ["editor_bank"]  # the fixture, shared with the API's other tests


def served(db: Session, bank_: Bank) -> list[tuple[str, int]]:
    """What learners of the course are served: (question, version id)."""
    course = db.scalar(select(Course).where(Course.slug == bank_.slug))
    assert course is not None
    return [(q.slug, q.version_id) for q in served_questions(db, bank.course_topic(db, course))]


def test_verify_checks_every_claim_against_torch_and_attaches_them_to_the_version(
    editor_bank: Bank, db: Session
) -> None:
    created = editor_bank.create()
    answer = editor_bank.call("POST", "/gru-h-n/verify")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["passed"] is True
    assert result["version_id"] == created["version"]["id"]
    assert result["seeds"] == 20 and result["torch_version"]
    fields = {claim["field"] for claim in result["claims"]}
    assert "check" in " ".join(fields), fields  # the check ran in the runner
    assert all(claim["passed"] for claim in result["claims"])
    stored = db.scalars(
        select(Verification).where(Verification.version_id == created["version"]["id"])
    ).all()
    assert [row.id for row in stored] == [result["id"]]
    shown = editor_bank.call("GET", "/gru-h-n").json()
    assert shown["verify"] == result
    listed = editor_bank.call("GET", params={"verified": "passed"}).json()["questions"]
    assert [q["id"] for q in listed] == ["gru-h-n"]


def test_publishing_needs_a_passing_verify_of_the_newest_version(
    editor_bank: Bank, db: Session
) -> None:
    created = editor_bank.create(WRONG_YAML)
    before = editor_bank.call("POST", "/gru-h-n/publish")
    assert before.status_code == 409
    assert "verify" in before.json()["message"]
    failed = editor_bank.call("POST", "/gru-h-n/verify").json()
    assert failed["passed"] is False
    wrong = [c for c in failed["claims"] if not c["passed"]]
    assert wrong and "33" in wrong[0]["claims"] + wrong[0]["message"], wrong
    refused = editor_bank.call("POST", "/gru-h-n/publish")
    assert refused.status_code == 409
    assert refused.json()["field"] == wrong[0]["field"]
    assert "claim disagrees with torch" in refused.json()["message"]
    assert editor_bank.call("GET", "/gru-h-n").json()["status"] == "draft"
    assert served(db, editor_bank) == []

    fixed = editor_bank.call(
        "PUT", "/gru-h-n", json={"yaml": GOOD_YAML, "base_version_id": created["version"]["id"]}
    ).json()
    assert editor_bank.call("POST", "/gru-h-n/publish").status_code == 409  # not yet verified
    assert editor_bank.call("POST", "/gru-h-n/verify").json()["passed"] is True
    published = editor_bank.call("POST", "/gru-h-n/publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["published_version"] == 2
    assert served(db, editor_bank) == [("gru-h-n", fixed["version"]["id"])]


def test_a_new_draft_of_a_published_question_is_not_served_until_published(
    editor_bank: Bank, db: Session
) -> None:
    created = editor_bank.create()
    editor_bank.call("POST", "/gru-h-n/verify")
    editor_bank.call("POST", "/gru-h-n/publish")
    draft = editor_bank.save(
        "gru-h-n",
        {**created["question"], "difficulty": "medium"},
        created["version"]["id"],
    ).json()
    assert (draft["status"], draft["unpublished_changes"]) == ("published", True)
    assert served(db, editor_bank) == [("gru-h-n", created["version"]["id"])]
    editor_bank.call("POST", "/gru-h-n/retire")
    assert served(db, editor_bank) == []


def test_bulk_verify_records_a_result_for_each_question_in_order(editor_bank: Bank) -> None:
    editor_bank.create()
    editor_bank.create(WRONG_YAML.replace("gru-h-n", "wrong-one"))
    answer = editor_bank.call(
        "POST", "/bulk", json={"action": "verify", "ids": ["wrong-one", "gru-h-n"]}
    )
    assert answer.status_code == 200, answer.text
    assert [v["passed"] for v in answer.json()["verifications"]] == [False, True]
    listed = editor_bank.call("GET", params={"verified": "failed"}).json()["questions"]
    assert [q["id"] for q in listed] == ["wrong-one"]


@pytest.mark.parametrize(("state", "code"), [("warming", "runner_warming"), ("off", "runner_off")])
def test_verify_while_the_runner_cannot_run_is_a_503_and_records_nothing(
    state: Literal["warming", "off"], code: str, editor_bank: Bank, app: FastAPI, db: Session
) -> None:
    editor_bank.create()
    ready = app.state.runner_state
    app.state.runner_state = RunnerState(state=state)
    try:
        answer = editor_bank.call("POST", "/gru-h-n/verify")
    finally:
        app.state.runner_state = ready  # the app is shared by the whole test session
    assert answer.status_code == 503
    assert answer.json()["code"] == code
    if state == "warming":
        assert int(answer.headers["Retry-After"]) >= 1
    assert db.scalars(select(Verification)).all() == []
