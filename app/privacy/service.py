"""Everything the site holds about one person, as a JSON document, or removed.

A person is a learner (their history: anonymous, or an account's) and, when they have one,
their account (a `users` row). Every foreign key to `learners.id` or `users.id` is handled by
one of the plans below, and tests/privacy walks the schema so that a new table referring to
either cannot be forgotten.

What deletion does, by kind of row:
- theirs alone (answers, sessions, reveals, flags, lab runs, grade overrides on them, sign-ins,
  tokens, enrolments, staff roles, LMS identities, their LMS scores, outbox messages about
  them, their idempotency keys): deleted;
- someone else's record that names them (`DETACH`: a course they created, a question version
  they wrote, an audit entry of a grade they changed, a problem report they filed, which the
  course's staff still work on): the row stays, the reference to them is emptied, and the
  report loses their answer;
- the audit log's entries about them (a grade an instructor set for them): kept, since the log
  is the course's record of who changed grades, with the learner's id replaced by "deleted".
Course statistics are computed from answers and attempts, so they lose this learner's
answers whole, never half. An account that is the only owner of a course is refused: the
course would have nobody to manage it (hand it over first).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, Text, cast, delete, func, select, update
from sqlalchemy.orm import Session

from app.core.db import as_utc
from app.core.errors import ConflictError, NotFoundError
from app.models import Base

DELETE, DETACH = "delete", "detach"

# Every foreign key to a learner: (table, column) -> what deletion does to the row.
LEARNER_REFERENCES: dict[tuple[str, str], str] = {
    ("answers", "learner_id"): DELETE,
    ("reveals", "learner_id"): DELETE,
    ("quiz_sessions", "learner_id"): DELETE,
    ("lab_runs", "learner_id"): DELETE,
    ("grade_overrides", "learner_id"): DELETE,
    ("problem_reports", "learner_id"): DETACH,
}
# Every foreign key to an account.
USER_REFERENCES: dict[tuple[str, str], str] = {
    ("learners", "user_id"): DELETE,  # the learner itself goes first, by the plan above
    ("account_sessions", "user_id"): DELETE,
    ("password_resets", "user_id"): DELETE,
    ("external_identities", "user_id"): DELETE,
    ("api_tokens", "user_id"): DELETE,
    ("course_imports", "user_id"): DELETE,  # their import previews, waiting to be confirmed
    ("lti_deep_links", "user_id"): DELETE,
    ("enrolments", "user_id"): DELETE,
    ("course_staff", "user_id"): DELETE,
    ("courses", "created_by"): DETACH,
    ("assignments", "created_by"): DETACH,
    ("audit_log", "actor_id"): DETACH,
    ("grade_overrides", "set_by"): DETACH,
    ("question_versions", "author_id"): DETACH,
    ("verifications", "run_by"): DETACH,
    ("report_messages", "author_id"): DETACH,
    ("staff_invites", "invited_by"): DETACH,
    ("webhook_subscriptions", "created_by"): DETACH,
}
# Rows that hang off the learner's own rows (deleted with them), and references to those.
SESSION_CHILDREN = ("flags", "answers", "reveals")
# Never exported: credentials, even hashed (a hash of a token signs nothing in, but a copy
# of it in a download helps nobody).
SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "secret", "private_pem"})
GONE = "deleted"


@dataclass(frozen=True)
class Person:
    """Whose data: the learner (None for an account that never answered) and the account."""

    learner_id: int | None
    learner_public_id: str | None
    user_id: int | None


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def find_person(
    db: Session,
    *,
    email: str | None = None,
    public_id: str | None = None,
    user_id: int | None = None,
) -> Person:
    """By an account's email (any case) or id, or a learner's public id; NotFoundError
    otherwise."""
    users, learners = table("users"), table("learners")
    if email is not None:
        user_id = db.scalar(select(users.c.id).where(func.lower(users.c.email) == email.lower()))
        if user_id is None:
            raise NotFoundError(f"no account has the email {email}")
    if user_id is not None:
        row = db.execute(
            select(learners.c.id, learners.c.public_id).where(learners.c.user_id == user_id)
        ).first()
        return Person(row.id if row else None, row.public_id if row else None, user_id)
    found = db.execute(
        select(learners.c.id, learners.c.public_id, learners.c.user_id).where(
            learners.c.public_id == public_id
        )
    ).first()
    if found is None:
        raise NotFoundError(f"no learner has the id {public_id}")
    return Person(found.id, found.public_id, found.user_id)


# Export --------------------------------------------------------------------------------------


def export(db: Session, person: Person) -> dict[str, Any]:
    """Every row about them, table by table (credentials left out), as JSON-ready values."""
    found: dict[str, list[dict[str, Any]]] = {}

    def add(name: str, rows: Iterable[Any]) -> None:
        listed = [_plain(table(name), row) for row in rows]
        if listed:
            found.setdefault(name, []).extend(listed)

    if person.user_id is not None:
        add(
            "users", db.execute(select(table("users")).where(table("users").c.id == person.user_id))
        )
    if person.learner_id is not None:
        learners = table("learners")
        add("learners", db.execute(select(learners).where(learners.c.id == person.learner_id)))
    for (name, column), _ in _references(person):
        if name == "learners":
            continue
        ident = person.learner_id if (name, column) in LEARNER_REFERENCES else person.user_id
        t = table(name)
        add(name, db.execute(select(t).where(t.c[column] == ident).order_by(*t.primary_key)))
    sessions = _session_ids(db, person)
    if sessions:
        flags = table("flags")
        add("flags", db.execute(select(flags).where(flags.c.session_id.in_(sessions))))
    reports = _report_ids(db, person)
    if reports:
        messages = table("report_messages")
        add(
            "report_messages",
            db.execute(
                select(messages)
                .where(
                    messages.c.report_id.in_(reports),
                    messages.c.author_id.is_(None),  # an account's come by author_id
                    messages.c.from_staff.is_(False),
                )
                .order_by(messages.c.id)
            ),
        )
    add("audit_log", _audit_about(db, person))
    add("lti_scores", db.execute(select(table("lti_scores")).where(_their_scores(person))))
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "learner_id": person.learner_public_id,
        "tables": found,
    }


def _references(person: Person) -> list[tuple[tuple[str, str], str]]:
    learner = list(LEARNER_REFERENCES.items()) if person.learner_id is not None else []
    user = list(USER_REFERENCES.items()) if person.user_id is not None else []
    return learner + user


def _plain(t: Table, row: Any) -> dict[str, Any]:
    return {k: _json(v) for k, v in row._mapping.items() if k not in SECRET_COLUMNS and k in t.c}


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


# Delete --------------------------------------------------------------------------------------


def delete_person(db: Session, person: Person) -> dict[str, int]:
    """Remove them (the caller's transaction holds it all); how many rows went, by table."""
    if person.user_id is not None:
        _refuse_last_owner(db, person.user_id)
    counts: dict[str, int] = {}

    def note(name: str, n: int) -> None:
        if n:
            counts[name] = counts.get(name, 0) + n

    _anonymise_audit(db, person)
    note("lti_scores", _delete(db, "lti_scores", _their_scores(person)))
    note("outbox", _delete_messages(db, person))
    if person.learner_public_id is not None:
        keys = table("idempotency_keys")
        note("idempotency_keys", _delete(db, "idempotency_keys", keys.c.caller == _caller(person)))
    if person.learner_id is not None:
        _delete_learner(db, person, note)
    if person.user_id is not None:
        _delete_user(db, person.user_id, note)
    return counts


def _delete_learner(db: Session, person: Person, note: Any) -> None:
    learner_id = person.learner_id
    sessions = _session_ids(db, person)
    reports = table("problem_reports")
    # Their reports stay with the course's staff, without them or their answer.
    db.execute(
        update(reports)
        .where(reports.c.learner_id == learner_id)
        .values(learner_id=None, session_id=None, given=None)
    )
    if sessions:
        db.execute(
            update(reports).where(reports.c.session_id.in_(sessions)).values(session_id=None)
        )
        for name in SESSION_CHILDREN:
            note(name, _delete(db, name, table(name).c.session_id.in_(sessions)))
    runs = table("lab_runs")
    theirs = select(runs.c.id).where(runs.c.learner_id == learner_id)
    # Another learner's run may be a cached copy of one of theirs: it keeps its numbers.
    db.execute(update(runs).where(runs.c.cached_from_id.in_(theirs)).values(cached_from_id=None))
    for (name, column), action in LEARNER_REFERENCES.items():
        if action == DELETE:
            note(name, _delete(db, name, table(name).c[column] == learner_id))
    note("learners", _delete(db, "learners", table("learners").c.id == learner_id))


def _delete_user(db: Session, user_id: int, note: Any) -> None:
    for (name, column), action in USER_REFERENCES.items():
        t = table(name)
        if action == DELETE:
            note(name, _delete(db, name, t.c[column] == user_id))
        else:
            db.execute(update(t).where(t.c[column] == user_id).values({column: None}))
    users = table("users")
    email = db.scalar(select(users.c.email).where(users.c.id == user_id))
    if email:
        invites = table("staff_invites")
        note(
            "staff_invites",
            _delete(db, "staff_invites", func.lower(invites.c.email) == email.lower()),
        )
    note("users", _delete(db, "users", users.c.id == user_id))


def _delete(db: Session, name: str, where: Any) -> int:
    result: Any = db.execute(delete(table(name)).where(where))
    return int(result.rowcount or 0)


def _refuse_last_owner(db: Session, user_id: int) -> None:
    staff, courses = table("course_staff"), table("courses")
    owned = select(staff.c.course_id).where(
        staff.c.user_id == user_id, staff.c.content_role == "owner"
    )
    others = select(staff.c.course_id).where(
        staff.c.user_id != user_id, staff.c.content_role == "owner"
    )
    alone = db.scalars(
        select(courses.c.slug).where(courses.c.id.in_(owned), courses.c.id.not_in(others))
    ).all()
    if alone:
        raise ConflictError(
            f"the account is the only owner of the course(s) {', '.join(sorted(alone))}: "
            "make someone else an owner first"
        )


def _session_ids(db: Session, person: Person) -> list[int]:
    if person.learner_id is None:
        return []
    sessions = table("quiz_sessions")
    return list(db.scalars(select(sessions.c.id).where(sessions.c.learner_id == person.learner_id)))


def _report_ids(db: Session, person: Person) -> list[int]:
    if person.learner_id is None:
        return []
    reports = table("problem_reports")
    return list(db.scalars(select(reports.c.id).where(reports.c.learner_id == person.learner_id)))


def _audit_about(db: Session, person: Person) -> list[Any]:
    """Audit entries whose target names the learner (a grade changed for them)."""
    if person.learner_public_id is None:
        return []
    log = table("audit_log")
    candidates = db.execute(
        select(log).where(cast(log.c.target, Text).contains(person.learner_public_id))
    )
    return [
        row for row in candidates if (row.target or {}).get("learner") == person.learner_public_id
    ]


def _anonymise_audit(db: Session, person: Person) -> None:
    log = table("audit_log")
    for row in _audit_about(db, person):
        target = dict(row.target) | {"learner": GONE}
        db.execute(update(log).where(log.c.id == row.id).values(target=target))


def _their_scores(person: Person) -> Any:
    """Scores sent to an LMS under the person's user id there (their identity's subject on
    that platform's issuer)."""
    scores, items = table("lti_scores"), table("lti_line_items")
    platforms, identities = table("lti_platforms"), table("external_identities")
    if person.user_id is None:
        return scores.c.id.is_(None)  # nothing
    theirs = (
        select(scores.c.id)
        .join(items, items.c.id == scores.c.line_item_id)
        .join(platforms, platforms.c.id == items.c.platform_id)
        .join(
            identities,
            (identities.c.issuer == platforms.c.issuer)
            & (identities.c.subject == scores.c.subject),
        )
        .where(identities.c.user_id == person.user_id)
    )
    return scores.c.id.in_(theirs)


def _delete_messages(db: Session, person: Person) -> int:
    """Outbox messages about them: an LMS score (its key ends with their learner's row id) or
    a webhook naming their public id. Deleted whatever their state: a pending one must not
    carry their data out after they asked for it to go."""
    if person.learner_id is None:
        return 0
    outbox = table("outbox")
    where: Any = (outbox.c.kind == "ags_score") & outbox.c.key.endswith(f":{person.learner_id}")
    if person.learner_public_id:
        where = where | cast(outbox.c.payload, Text).contains(person.learner_public_id)
    return _delete(db, "outbox", where)


def _caller(person: Person) -> str:
    """The caller under which app.core.idempotency keeps a cookie learner's keys."""
    return hashlib.sha256(f"learner:{person.learner_public_id}".encode()).hexdigest()


def referencing_columns() -> set[tuple[str, str]]:
    """Every (table, column) with a foreign key to learners or users, from the schema."""
    found = set()
    for t in Base.metadata.tables.values():
        for fk in t.foreign_keys:
            if fk.column.table.name in ("learners", "users"):
                found.add((t.name, fk.parent.name))
    return found


def handled_columns() -> set[tuple[str, str]]:
    return set(LEARNER_REFERENCES) | set(USER_REFERENCES)
