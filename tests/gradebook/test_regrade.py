"""Regrade after a fix: a dry run that writes nothing, then an apply that rescores, audits,
and is refused when a question was published again in between."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts import records
from app.attempts.models import Answer, QuizSession
from app.core import events
from app.core.db import utcnow
from app.gradebook.models import AuditEntry
from tests.assignments.support import attempt, make_assignment, make_class
from tests.gradebook.support import fixed_assignment, position_of, publish_fix, sit

FIXED_ONE = "birnn-main-advantage"


def _scores(db: Session) -> list[tuple[int, float, bool]]:
    db.expire_all()
    answers = db.execute(select(Answer.id, Answer.score, Answer.correct).order_by(Answer.id))
    return [tuple(row) for row in answers]  # type: ignore[misc]


def _setup(app: FastAPI, db: Session, prefix: str):  # type: ignore[no-untyped-def]
    """Two learners: one chose the old key of FIXED_ONE, one the first wrong option (the new
    key once fixed); both answered everything else right."""
    catalog = app.state.catalog
    group = make_class(db, learners=2, prefix=prefix)
    assignment = fixed_assignment(db, catalog, group.course)
    keyed, other = (group.learner_of(db, u) for u in group.learners)
    sessions = []
    for learner in (keyed, other):
        session = sit(db, catalog, assignment, learner, ["right"] * 4)
        sessions.append(session)
    fixed_at = position_of(sessions[1], db, FIXED_ONE)
    wrong = db.scalar(
        select(Answer).where(Answer.session_id == sessions[1].id, Answer.position == fixed_at)
    )
    assert wrong is not None
    question = catalog.version(db, wrong.question_version_id)
    first_wrong = next(i for i, o in enumerate(question.options) if not o.correct)
    wrong.given, wrong.correct, wrong.score = chr(ord("A") + first_wrong), False, 0.0
    db.get(QuizSession, sessions[1].id).score = 75.0  # type: ignore[union-attr]
    db.flush()
    owner = group.visitor(app, db, group.owner)
    url = f"/api/v1/courses/{group.course.slug}/assignments/{assignment.public_id}/regrade"
    return group, assignment, sessions, owner, url


def test_a_dry_run_shows_each_score_change_and_writes_nothing(app: FastAPI, db: Session) -> None:
    _group, _assignment, sessions, owner, url = _setup(app, db, "rg1")
    new = publish_fix(db, FIXED_ONE)
    before = _scores(db)

    answer = owner.client.post(url, json={"apply": False})

    assert answer.status_code == 200, answer.text
    plan = answer.json()
    by_learner = {a["name"]: a for a in plan["attempts"]}
    assert (by_learner["Learner 0"]["old_percent"], by_learner["Learner 0"]["new_percent"]) == (
        100.0,
        75.0,
    )
    assert (by_learner["Learner 1"]["old_percent"], by_learner["Learner 1"]["new_percent"]) == (
        75.0,
        100.0,
    )
    assert by_learner["Learner 1"]["attempt"] == sessions[1].public_id
    assert plan["applied"] is False and "session_id" not in by_learner["Learner 1"]
    (change,) = by_learner["Learner 1"]["answers"]
    assert (change["old_score"], change["new_score"], change["new_version"]) == (0.0, 1.0, 2)
    assert list(plan["versions"].values()) == [new.id]
    assert plan["skipped"] == []
    assert _scores(db) == before
    assert db.scalars(select(AuditEntry)).all() == []


def test_applying_rescores_the_attempts_and_audits_each(app: FastAPI, db: Session) -> None:
    group, _assignment, sessions, owner, url = _setup(app, db, "rg2")
    publish_fix(db, FIXED_ONE)
    versions = owner.client.post(url, json={"apply": False}).json()["versions"]

    answer = owner.client.post(url, json={"apply": True, "expected": versions})

    assert answer.status_code == 200, answer.text
    db.expire_all()
    scores = {s.public_id: db.get(QuizSession, s.id).score for s in sessions}  # type: ignore[union-attr]
    assert scores == {sessions[0].public_id: 75.0, sessions[1].public_id: 100.0}
    entries = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert sorted((e.before, e.after) for e in entries) == [(75.0, 100.0), (100.0, 75.0)]
    assert {e.action for e in entries} == {"regrade.apply"}
    assert {e.target["attempt"] for e in entries} == {s.public_id for s in sessions}
    assert all(e.actor_id == group.owner.id for e in entries)
    # The answers keep the version the learners saw; nothing is left to regrade.
    versions_seen = set(db.scalars(select(Answer.question_version_id)))
    assert versions_seen.isdisjoint(set(versions.values()))
    again = owner.client.post(url, json={"apply": False}).json()
    assert again["attempts"] == []
    book = owner.client.get(url.replace("/regrade", "/gradebook")).json()
    assert {r["name"]: r["best"] for r in book["rows"]} == {"Learner 0": 75.0, "Learner 1": 100.0}


def test_an_apply_after_another_publication_is_refused(app: FastAPI, db: Session) -> None:
    _group, _assignment, _sessions, owner, url = _setup(app, db, "rg3")
    publish_fix(db, FIXED_ONE)
    versions = owner.client.post(url, json={"apply": False}).json()["versions"]
    publish_fix(db, FIXED_ONE)  # fixed again: the dry run no longer shows what would happen
    before = _scores(db)

    stale = owner.client.post(url, json={"apply": True, "expected": versions})
    missing = owner.client.post(url, json={"apply": True})

    assert stale.status_code == 409 and stale.json()["field"] == "expected"
    assert missing.status_code == 400 and missing.json()["field"] == "expected"
    assert _scores(db) == before
    assert db.scalars(select(AuditEntry)).all() == []


def test_with_no_new_version_nothing_is_regraded(app: FastAPI, db: Session) -> None:
    _group, _assignment, _sessions, owner, url = _setup(app, db, "rg4")

    plan = owner.client.post(url, json={"apply": False}).json()

    assert (plan["attempts"], plan["versions"], plan["skipped"]) == ([], {}, [])


def test_a_code_question_is_skipped_and_said_so(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=1, prefix="rg5")
    code_ref = "birnn/bigru-tagger-module"
    assignment = make_assignment(
        db, catalog, group.course, questions=[code_ref], draws=[], title="Code"
    )
    session = attempt(db, catalog, assignment, group.learner_of(db, group.learners[0]))
    db.add(
        Answer(
            session_id=session.id,
            learner_id=session.learner_id,
            question_version_id=session.version_ids[0],
            position=1,
            slot=1,
            given={"code": "x = 1", "tests": []},
            correct=False,
            score=0.5,
        )
    )
    records.submit(db, session, utcnow())
    publish_fix(db, "bigru-tagger-module", move_key=False)
    owner = group.visitor(app, db, group.owner)
    url = f"/api/v1/courses/{group.course.slug}/assignments/{assignment.public_id}/regrade"

    plan = owner.client.post(url, json={"apply": False}).json()

    assert plan["attempts"] == []
    (skipped,) = plan["skipped"]
    assert skipped["question"] == code_ref and skipped["answers"] == 1
    assert "code question" in skipped["reason"]


def test_an_applied_regrade_announces_each_changed_grade_so_an_lms_gradebook_follows(
    app: FastAPI, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard: list[tuple[int, int]] = []
    monkeypatch.setattr(
        events, "_grade_handlers", [lambda _db, a, learner: heard.append((a, learner))]
    )
    _group, assignment, sessions, owner, url = _setup(app, db, "rg-event")
    publish_fix(db, FIXED_ONE)
    versions = owner.client.post(url, json={"apply": False}).json()["versions"]
    assert heard == []  # a dry run changes nothing

    owner.client.post(url, json={"apply": True, "expected": versions})

    assert sorted(heard) == sorted((assignment.id, s.learner_id) for s in sessions)
