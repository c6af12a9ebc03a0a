"""Learners practise a course's bank: its published versions only, for its members only, and
every answer graded against the version the learner was shown. On both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.models import Answer, QuizSession
from app.authoring import bank, service
from app.authoring.practice import served_course
from app.bank.schema import AnyQuestion, QuestionAdapter
from app.bank.verification.claim import Verification as VerifyResult
from app.courses import service as courses
from app.courses.models import Course, CourseStaff, Enrolment
from app.questions.catalog import Catalog
from app.questions.models import QuestionRow
from tests.courses.support import Visitor, anonymous, make_user, signed_in

SOURCE = Path(__file__).resolve().parents[2] / "questions/birnn/gru-stacked-bidir-param-count.yaml"


def numeric(qid: str, value: float, prompt: str = "How many parameters?") -> AnyQuestion:
    """A numeric question with no check: no torch claim to tie, so it can be published."""
    data: dict[str, Any] = yaml.safe_load(SOURCE.read_text())
    data.pop("check")
    data.pop("unit")  # GIFT has no units: exported whole in every format
    data.update(id=qid, prompt=prompt, answer={"value": value, "tolerance": 0})
    return QuestionAdapter.validate_python(data)


def publish(db: Session, catalog: Catalog, course: Course, qid: str) -> int:
    """Verify (recorded as passed: the question makes no torch claim) and publish, as the
    pages and the API do (every process told)."""
    row = bank.find_question(db, course, qid)
    version = bank.version_of(db, row)
    bank.record_verification(
        db, version, VerifyResult(qid, []), seeds=20, torch="test", run_by=None
    )
    return service.publish(db, catalog, course, qid).id


@pytest.fixture
def course_bank(app: FastAPI, db: Session) -> dict[str, Any]:
    """A course with a published question, a draft, a retired one; a learner, an editor and
    an outsider."""
    owner = make_user(db, "owner@example.org")
    course = courses.create_course(db, owner.id, "Deep learning")
    people = {name: make_user(db, f"{name}@example.org") for name in ("learner", "editor", "out")}
    db.add(Enrolment(course_id=course.id, user_id=people["learner"].id))
    db.add(
        CourseStaff(
            course_id=course.id,
            user_id=people["editor"].id,
            content_role="editor",
            data_role="none",
        )
    )
    for qid, value in (("live", 3360), ("draft", 1), ("gone", 2)):
        bank.create_question(db, course, numeric(qid, value), author_id=owner.id, message="new")
    published = {qid: publish(db, app.state.catalog, course, qid) for qid in ("live", "gone")}
    service.retire(db, app.state.catalog, course, "gone")
    db.commit()
    visitors = {name: signed_in(app, db, user) for name, user in people.items()}
    yield {"course": course, "visitors": visitors, "published": published, "owner": owner}
    app.state.catalog.course_topics.clear()  # the app outlives this test's rolled-back rows


def start(visitor: Visitor, course: Course) -> str:
    """The session's public id, from the redirect to its first question."""
    answer = visitor.form(f"/courses/{course.slug}/practice")
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert "/practice/" in location and location.endswith("/1")
    return str(location.rsplit("/", 2)[-2])


def session_versions(db: Session, public_id: str) -> list[int]:
    db.expire_all()
    session = db.scalar(select(QuizSession).where(QuizSession.public_id == public_id))
    assert session is not None
    return list(session.version_ids)


def test_a_learner_practises_only_the_published_question_never_a_draft_or_a_retired_one(
    course_bank: dict[str, Any], db: Session
) -> None:
    course, learner = course_bank["course"], course_bank["visitors"]["learner"]
    session = start(learner, course)
    assert session_versions(db, session) == [course_bank["published"]["live"]]
    page = learner.client.get(f"/practice/{session}/1")
    assert page.status_code == 200, page.text
    assert "How many parameters?" in page.text
    assert "Deep learning" in page.text
    course_links = f'href="/courses/{course.slug}"', f'href="/courses/{course.slug}/practice"'
    assert all(link in page.text for link in course_links), "the way back is the course's"
    assert "/topics/course-" not in page.text, "a course's bank has no topic page"


def test_the_course_page_offers_its_members_the_practice_of_its_questions(
    course_bank: dict[str, Any],
) -> None:
    course = course_bank["course"]
    for who in ("learner", "editor"):
        page = course_bank["visitors"][who].client.get(f"/courses/{course.slug}")
        assert "Practice the course's questions" in page.text, who
        start_page = course_bank["visitors"][who].client.get(f"/courses/{course.slug}/practice")
        assert "1 published question," in start_page.text, who


def test_staff_practise_the_course_bank_too(course_bank: dict[str, Any], db: Session) -> None:
    session = start(course_bank["visitors"]["editor"], course_bank["course"])
    assert session_versions(db, session) == [course_bank["published"]["live"]]


def test_a_non_member_cannot_start_the_course_practice_nor_reach_it_as_a_topic(
    course_bank: dict[str, Any], app: FastAPI, db: Session
) -> None:
    course, outsider = course_bank["course"], course_bank["visitors"]["out"]
    before = db.scalars(select(QuizSession.id)).all()
    assert outsider.form(f"/courses/{course.slug}/practice").status_code == 403
    assert outsider.client.get(f"/courses/{course.slug}/practice").status_code == 403
    assert anonymous(app).form(f"/courses/{course.slug}/practice").status_code == 401
    # Nor through the shipped bank's routes, which know no course topic.
    topic = f"course-{course.slug}"
    assert outsider.client.get(f"/topics/{topic}/practice").status_code == 404
    assert outsider.form(f"/topics/{topic}/practice").status_code == 404
    api = outsider.client.post("/api/v1/sessions", json={"topic": topic, "mode": "practice"})
    assert api.status_code == 404
    assert outsider.client.get(f"/api/v1/topics/{topic}/questions").status_code == 404
    assert "course-" not in outsider.client.get("/api/v1/topics").text
    db.expire_all()
    assert db.scalars(select(QuizSession.id)).all() == before


def test_an_answer_is_graded_against_the_version_shown_even_after_a_new_one_is_published(
    course_bank: dict[str, Any], app: FastAPI, db: Session
) -> None:
    course, learner = course_bank["course"], course_bank["visitors"]["learner"]
    session = start(learner, course)
    shown = course_bank["published"]["live"]
    # Meanwhile the author publishes a version with another answer.
    row = bank.find_question(db, course, "live")
    bank.save_question(
        db,
        course,
        "live",
        numeric("live", 4480),
        base_version_id=shown,
        author_id=course_bank["owner"].id,
        message="LSTM now",
    )
    newer = publish(db, app.state.catalog, course, "live")
    db.commit()
    assert newer != shown
    answer = learner.client.post(
        f"/api/v1/sessions/{session}/answers", json={"position": 1, "answer": 3360}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["correct"] is True
    db.expire_all()
    stored = db.scalars(select(Answer).where(Answer.question_version_id.in_([shown, newer])))
    assert [a.question_version_id for a in stored] == [shown]
    # A new session gets the newer version.
    assert session_versions(db, start(learner, course)) == [newer]
    assert row.published_version_id == newer


def test_a_course_with_nothing_published_sends_its_learner_to_a_page_that_says_so(
    course_bank: dict[str, Any], app: FastAPI, db: Session
) -> None:
    course = course_bank["course"]
    service.retire(db, app.state.catalog, course, "live")
    db.commit()
    learner = course_bank["visitors"]["learner"]
    answer = learner.form(f"/courses/{course.slug}/practice")
    assert answer.status_code == 303
    assert answer.headers["location"].endswith(f"/courses/{course.slug}/practice")
    page = learner.client.get(answer.headers["location"])
    assert "no published questions to practise yet" in page.text


def test_the_course_serves_a_newly_published_question_and_drops_a_retired_one(
    course_bank: dict[str, Any], app: FastAPI, db: Session
) -> None:
    course, catalog = course_bank["course"], app.state.catalog
    assert [q.slug for q in served_course(db, catalog, course).questions] == ["live"]
    publish(db, catalog, course, "draft")
    assert [q.slug for q in served_course(db, catalog, course).questions] == ["live", "draft"]
    service.retire(db, catalog, course, "live")
    topic = served_course(db, catalog, course)
    assert [q.slug for q in topic.questions] == ["draft"]
    assert catalog.topic_by_id(db, topic.id).questions == topic.questions
    assert topic.slug not in catalog.topics  # never listed with the shipped topics
    assert db.scalar(select(QuestionRow.id).where(QuestionRow.slug == "draft")) is not None
