"""A course's own question bank: questions saved as immutable versions, drafts and published
ones, verify results attached to versions. The same schema, grading and rendering as the
shipped bank: a course question is an `AnyQuestion` stored as a QuestionVersion row, so
sessions, answers and reviews work on it unchanged.

Concurrency: a save names the version it was edited from (`base_version_id`); if the question
has moved on meanwhile, the save is refused with 409 and the diff (`StaleEditError`), never
written over.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.bank.claims import untied_claims
from app.bank.formats.yaml_zip import to_yaml
from app.bank.loader import content_hash
from app.bank.schema import AnyQuestion, QuestionAdapter, Topic
from app.bank.verification.claim import Verification as VerifyResult
from app.core.db import utcnow
from app.core.errors import ConflictError, NotFoundError
from app.courses.models import Course
from app.questions.models import QuestionRow, QuestionVersion, TopicRow, Verification
from app.questions.versions import version_for

TOPIC_PREFIX = "course-"  # course topics' slugs; the shipped bank's folders never start so


class StaleEditError(ConflictError):
    """The question was saved by someone else since this edit began."""

    def __init__(self, message: str, *, current: QuestionVersion, diff: list[str]) -> None:
        super().__init__(message, field="base_version_id")
        self.current_version_id = current.id
        self.diff = diff


@dataclass(frozen=True)
class Status:
    """Where a course question stands: draft (never published), published (learners get
    `published_version_id`; newer saves wait as a draft), retired (out of new sessions)."""

    state: str  # "draft" | "published" | "retired"
    unpublished_changes: bool


def status_of(row: QuestionRow) -> Status:
    if row.retired_at is not None:
        return Status("retired", False)
    if row.published_version_id is None:
        return Status("draft", True)
    return Status("published", row.published_version_id != row.current_version_id)


def course_topic(db: Session, course: Course) -> TopicRow:
    """The course bank's topic row, made on first use: sessions over the bank point at it."""
    row = db.scalar(select(TopicRow).where(TopicRow.course_id == course.id))
    if row is not None:
        return row
    topic = Topic(
        title=course.title,
        category="Course",
        estimated_minutes=15,
        summary=f"The questions of the course {course.title}.",
        modes=["practice"],
        notes=f"The questions of the course {course.title}, written by its staff.",
    )
    row = TopicRow(
        slug=f"{TOPIC_PREFIX}{course.slug}",
        title=topic.title,
        category=topic.category,
        estimated_minutes=topic.estimated_minutes,
        data=topic.model_dump(mode="json"),
        content_hash=content_hash(topic),
        course_id=course.id,
    )
    db.add(row)
    db.flush()
    return row


def find_question(db: Session, course: Course, slug: str) -> QuestionRow:
    row = db.scalar(
        select(QuestionRow).where(QuestionRow.course_id == course.id, QuestionRow.slug == slug)
    )
    if row is None:
        raise NotFoundError(f"the course has no question '{slug}'", field="question")
    return row


def version_of(db: Session, row: QuestionRow, version_id: int | None = None) -> QuestionVersion:
    """The question's version `version_id` (its newest when None)."""
    wanted = version_id if version_id is not None else row.current_version_id
    version = db.get(QuestionVersion, wanted) if wanted is not None else None
    if version is None or version.question_id != row.id:
        raise NotFoundError(f"'{row.slug}' has no version {version_id}", field="version")
    return version


def model_of(version: QuestionVersion) -> AnyQuestion:
    return QuestionAdapter.validate_python(version.data)


def create_question(
    db: Session, course: Course, question: AnyQuestion, *, author_id: int | None, message: str
) -> QuestionRow:
    """A new draft in the course bank; 409 when the course has a question with this id."""
    exists = db.scalar(
        select(func.count()).where(
            QuestionRow.course_id == course.id, QuestionRow.slug == question.id
        )
    )
    if exists:
        raise ConflictError(f"the course has a question '{question.id}' already", field="id")
    topic = course_topic(db, course)
    position = db.scalar(
        select(func.coalesce(func.max(QuestionRow.position), -1)).where(
            QuestionRow.topic_id == topic.id
        )
    )
    row = QuestionRow(
        slug=question.id, topic_id=topic.id, course_id=course.id, position=(position or 0) + 1
    )
    db.add(row)
    db.flush()
    _new_version(db, row, question, author_id=author_id, message=message or "created")
    return row


def save_question(
    db: Session,
    course: Course,
    slug: str,
    question: AnyQuestion,
    *,
    base_version_id: int,
    author_id: int | None,
    message: str,
) -> QuestionVersion:
    """A new version, when `base_version_id` is still the newest; the same content as a version
    seen before makes that version the newest again (a revert costs no new row)."""
    row = find_question(db, course, slug)
    if question.id != slug:
        raise ConflictError(
            f"a question's id cannot change (it is '{slug}'): copy it under a new id instead",
            field="id",
        )
    current = version_of(db, row)
    if current.id != base_version_id:
        raise StaleEditError(
            f"'{slug}' was saved by someone else since you began (now version {current.number}): "
            "compare, then edit the newest version",
            current=current,
            diff=diff_lines(model_of(version_of(db, row, base_version_id)), model_of(current)),
        )
    return _new_version(db, row, question, author_id=author_id, message=message)


def _new_version(
    db: Session, row: QuestionRow, question: AnyQuestion, *, author_id: int | None, message: str
) -> QuestionVersion:
    version, _ = version_for(
        db,
        row,
        question,
        content_hash(question),
        source_path=f"{row.slug}.yaml",
        author_id=author_id,
        message=message,
    )
    row.current_version_id = version.id
    return version


def history(db: Session, row: QuestionRow) -> list[QuestionVersion]:
    """Every version, newest first."""
    return list(
        db.scalars(
            select(QuestionVersion)
            .where(QuestionVersion.question_id == row.id)
            .order_by(QuestionVersion.number.desc())
        )
    )


def diff_lines(old: AnyQuestion, new: AnyQuestion) -> list[str]:
    """A unified diff of the two versions' YAML, as authors read and write them."""
    before = to_yaml(old).decode().splitlines()
    after = to_yaml(new).decode().splitlines()
    return list(difflib.unified_diff(before, after, "before", "after", lineterm=""))


def revert(
    db: Session, course: Course, slug: str, number: int, *, author_id: int | None
) -> QuestionVersion:
    """Make an earlier version the newest again. Versions are content-addressed, so this is
    that very version (its number, author and verify results kept), not a copy."""
    row = find_question(db, course, slug)
    target = db.scalar(
        select(QuestionVersion).where(
            QuestionVersion.question_id == row.id, QuestionVersion.number == number
        )
    )
    if target is None:
        raise NotFoundError(f"'{slug}' has no version {number}", field="version")
    row.current_version_id = target.id
    return target


def record_verification(
    db: Session,
    version: QuestionVersion,
    result: VerifyResult,
    *,
    seeds: int,
    torch: str,
    run_by: int | None,
) -> Verification:
    row = Verification(
        version_id=version.id,
        passed=result.passed,
        claims=[
            {
                "field": c.field,
                "claims": c.claims,
                "observed": c.observed,
                "passed": c.passed,
                "seed": c.seed,
                "values": c.values,
                "message": c.message(),
            }
            for c in result.claims
        ],
        seeds=seeds,
        torch_version=torch,
        run_by=run_by,
    )
    db.add(row)
    db.flush()
    return row


def latest_verification(db: Session, version_id: int) -> Verification | None:
    return db.scalar(
        select(Verification)
        .where(Verification.version_id == version_id)
        .order_by(Verification.id.desc())
        .limit(1)
    )


def publish(db: Session, course: Course, slug: str) -> QuestionVersion:
    """Learners get the newest version from now on. It must have passed verify (the latest
    verify of that very version) and tie every torch claim to a check."""
    row = find_question(db, course, slug)
    version = version_of(db, row)
    untied = untied_claims(model_of(version))
    if untied:
        field, message = untied[0]
        raise ConflictError(f"cannot publish: {field}: {message}", field=field)
    verified = latest_verification(db, version.id)
    if verified is None:
        raise ConflictError("cannot publish: verify this version against torch first")
    if not verified.passed:
        failed = next(c for c in verified.claims if not c["passed"])
        raise ConflictError(
            f"cannot publish: claim disagrees with torch: {failed['field']}: {failed['message']}",
            field=failed["field"],
        )
    row.published_version_id = version.id
    row.retired_at = None
    return version


def retire(db: Session, course: Course, slug: str) -> QuestionRow:
    """Out of new sessions; its history and the answers given to it stay."""
    row = find_question(db, course, slug)
    row.retired_at = row.retired_at or utcnow()
    return row
