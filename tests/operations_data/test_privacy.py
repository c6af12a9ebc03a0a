"""One learner's data, exported or deleted: every table that refers to a learner or an account
is covered, nothing of theirs is left after a delete, and nobody else's data changes."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.core.errors import ConflictError
from app.models import Base, Learner, ProblemReport, User
from app.privacy.service import (
    Person,
    delete_person,
    export,
    find_person,
    handled_columns,
    referencing_columns,
)
from tests.accounts.support import sign_up
from tests.operations_data.support import place, seed_person
from tests.pages.test_pages_without_js import csrf
from tests.tokens.support import bearer


def test_every_foreign_key_to_a_learner_or_an_account_is_handled() -> None:
    missing = referencing_columns() - handled_columns()
    assert not missing, (
        f"app.privacy.service does not say what export and delete do to {sorted(missing)}: "
        "add them to LEARNER_REFERENCES or USER_REFERENCES"
    )
    assert not handled_columns() - referencing_columns(), "a plan names a column that is gone"


def _rows_naming(db: Session, person: Person) -> dict[str, int]:
    """Rows whose foreign key points at the person's learner or account, by table.column."""
    found = {}
    for table, column in referencing_columns():
        t = Base.metadata.tables[table]
        target = t.c[column].foreign_keys.copy().pop().column.table.name
        ident = person.learner_id if target == "learners" else person.user_id
        if ident is None:
            continue
        n = db.scalar(select(func.count()).select_from(t).where(t.c[column] == ident))
        if n:
            found[f"{table}.{column}"] = n
    return found


def _counts(db: Session) -> dict[str, int]:
    return {
        name: db.scalar(select(func.count()).select_from(t)) or 0
        for name, t in Base.metadata.tables.items()
    }


def test_the_export_holds_every_table_of_theirs_and_no_credential(db: Session) -> None:
    at = place(db)
    learner = seed_person(db, at)
    person = find_person(db, public_id=learner.public_id)
    document = export(db, person)
    tables = document["tables"]
    for name in (
        "users",
        "learners",
        "answers",
        "quiz_sessions",
        "reveals",
        "flags",
        "lab_runs",
        "grade_overrides",
        "problem_reports",
        "report_messages",
        "enrolments",
        "external_identities",
        "api_tokens",
        "account_sessions",
        "lti_scores",
        "audit_log",
    ):
        assert tables.get(name), f"the export lacks {name}"
    assert tables["answers"][0]["given"] == {"choice": tables["lab_runs"][0]["config_key"]}
    assert all("password_hash" not in row for row in tables["users"])
    assert all("token_hash" not in row for row in tables["api_tokens"] + tables["account_sessions"])
    assert tables["audit_log"][0]["target"]["learner"] == learner.public_id


def test_after_a_delete_no_row_refers_to_them_and_others_keep_theirs(db: Session) -> None:
    at = place(db)
    gone = seed_person(db, at)
    kept = seed_person(db, at)
    person = find_person(db, public_id=gone.public_id)
    kept_person = find_person(db, public_id=kept.public_id)
    theirs_before = _rows_naming(db, kept_person)
    before = _counts(db)

    deleted = delete_person(db, person)
    db.expire_all()

    assert _rows_naming(db, person) == {}
    assert _rows_naming(db, kept_person) == theirs_before
    assert db.get(Learner, person.learner_id) is None and db.get(User, person.user_id) is None
    after = _counts(db)
    for table, n in deleted.items():
        assert before[table] - after[table] == n, table
    # The course's own records keep their rows, without them.
    report = db.scalars(select(ProblemReport).where(ProblemReport.course_id == at.course.id)).all()
    assert len(report) == 2 and sum(r.learner_id is None for r in report) == 1
    audit = export(db, kept_person)["tables"]["audit_log"]
    assert [a["target"]["learner"] for a in audit] == [kept_person.learner_public_id]
    assert after["audit_log"] == before["audit_log"]
    assert after["users"] == before["users"] - 1  # the owner stays


def test_an_anonymous_learner_is_deleted_without_an_account(db: Session) -> None:
    at = place(db)
    learner = seed_person(db, at, with_account=False)
    person = find_person(db, public_id=learner.public_id)
    assert person.user_id is None
    delete_person(db, person)
    assert _rows_naming(db, person) == {}


def test_the_only_owner_of_a_course_is_refused(db: Session) -> None:
    at = place(db)
    with pytest.raises(ConflictError, match=at.course.slug):
        delete_person(db, find_person(db, user_id=at.owner.id))


def _answer_something(client: TestClient) -> None:
    started = client.post("/api/v1/sessions", json={"topic": "birnn", "mode": "practice"})
    assert started.status_code in (200, 201), started.text


def test_a_learner_downloads_and_deletes_their_own_data(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    me = client.get("/api/v1/me").json()["learner_id"]
    _answer_something(client)
    exported = client.get("/api/v1/me/export")
    assert exported.status_code == 200
    assert exported.headers["cache-control"] == "no-store"
    assert exported.json()["learner_id"] == me
    assert exported.json()["tables"]["quiz_sessions"]

    refused = client.delete("/api/v1/me")
    assert refused.status_code == 422 and refused.json()["field"] == "confirm"

    done = client.delete("/api/v1/me", params={"confirm": "true"})
    assert done.status_code == 200, done.text
    assert done.json()["deleted"]["quiz_sessions"] == 1
    assert db.scalar(select(Learner).where(Learner.public_id == me)) is None
    assert any(c.startswith("tq_learner=;") for c in done.headers.get_list("set-cookie"))


def test_the_account_page_deletes_the_account_once_confirmed(
    client: TestClient, db: Session
) -> None:
    email = f"gone-{uuid.uuid4().hex[:8]}@example.org"
    sign_up(client, email)
    _answer_something(client)
    page = client.get("/account")
    assert "Download everything" in page.text and 'for="confirm-delete"' in page.text

    unconfirmed = client.post("/account/delete", data={"csrf_token": csrf(page.text)})
    assert unconfirmed.status_code == 400
    assert 'id="confirm-problem" role="status"' in unconfirmed.text

    done = client.post(
        "/account/delete",
        data={"csrf_token": csrf(page.text), "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert db.scalar(select(User).where(User.email == email)) is None
    assert client.get("/account", follow_redirects=False).status_code == 303  # signed out


def test_an_api_token_cannot_export_or_delete(app: FastAPI, client: TestClient) -> None:
    sign_up(client, f"tok-{uuid.uuid4().hex[:8]}@example.org")
    made = client.post("/api/v1/account/tokens", json={"name": "script", "scopes": ["practice"]})
    assert made.status_code == 201, made.text
    script = bearer(app, made.json()["token"])
    assert script.get("/api/v1/me/export").status_code == 403
    assert script.delete("/api/v1/me", params={"confirm": "true"}).status_code == 403
