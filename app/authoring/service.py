"""What the editor pages and the course-bank API both do with a course's bank, on top of its
storage (app.authoring.bank): verify a question's newest version against real torch, list and
search the bank, act on many questions at once, copy a shipped question, and read a question
from what an author sent (JSON or YAML).

Verify awaits the runner, so its callers are async: it reads in one short transaction, runs the
checks with no transaction open, and records the result in a second (app.core.routing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.authoring import bank
from app.authoring.practice import course_changed
from app.bank.loader import Problem, parse_text
from app.bank.schema import AnyQuestion, QuestionAdapter
from app.bank.verification.claim import Verification as VerifyResult
from app.bank.verify import SEEDS, verify_many, verify_question
from app.core.db import Database
from app.core.errors import AppError, NotFoundError
from app.courses.models import Course
from app.questions.catalog import Catalog
from app.questions.models import QuestionRow, QuestionVersion, Verification
from app.reports.models import ProblemReport
from app.runner.client import OFF_HERE, Runner, RunnerOffError, RunnerState, installed_torch

VerifyState = Literal["passed", "failed", "none"]
State = Literal["draft", "published", "retired"]


# --- verify ------------------------------------------------------------------------------------


def _ready_runner(runner: Runner | None, runner_state: RunnerState) -> Runner:
    """The runner if it can run now; else the error a run would get (503, with Retry-After
    while it warms), raised before any work starts."""
    if runner is None:
        raise RunnerOffError(runner_state.reason or OFF_HERE)
    refusal = runner_state.error()
    if refusal is not None:
        raise refusal
    return runner


def _newest(db: Session, course_id: int, slugs: Sequence[str]) -> list[tuple[int, AnyQuestion]]:
    course = _course(db, course_id)
    found = []
    for slug in slugs:
        version = bank.version_of(db, bank.find_question(db, course, slug))
        found.append((version.id, bank.model_of(version)))
    return found


def _record(
    db: Session,
    checked: list[tuple[int, VerifyResult]],
    *,
    seeds: int,
    torch: str,
    run_by: int | None,
) -> list[Verification]:
    recorded = []
    for version_id, result in checked:
        version = db.get(QuestionVersion, version_id)
        if version is None:  # versions are never deleted; a vanished one is a bug upstream
            raise NotFoundError(f"version {version_id} is gone", field="version")
        recorded.append(
            bank.record_verification(db, version, result, seeds=seeds, torch=torch, run_by=run_by)
        )
    return recorded


async def verify_current(
    database: Database,
    runner: Runner | None,
    runner_state: RunnerState,
    course_id: int,
    slug: str,
    user_id: int | None,
    *,
    seeds: int = SEEDS,
) -> Verification:
    """Verify the question's newest version against torch; the recorded result, attached to
    that version (a save made meanwhile is a new version, verified on its own)."""
    (recorded,) = await bulk_verify(
        database, runner, runner_state, course_id, [slug], user_id, seeds=seeds
    )
    return recorded


async def bulk_verify(
    database: Database,
    runner: Runner | None,
    runner_state: RunnerState,
    course_id: int,
    slugs: Sequence[str],
    user_id: int | None,
    *,
    seeds: int = SEEDS,
) -> list[Verification]:
    """verify_current for each question, in order, sharing one gate of parallel runs."""
    ready = _ready_runner(runner, runner_state)
    newest = await database.run(_newest, course_id, list(slugs))
    if len(newest) == 1:
        results = [await verify_question(newest[0][1], ready, seeds=seeds)]
    else:
        results = await verify_many([q for _, q in newest], ready, seeds=seeds)
    checked = [(version_id, r) for (version_id, _), r in zip(newest, results, strict=True)]
    torch = runner_state.torch or installed_torch() or "unknown"
    return await database.run(_record, checked, seeds=seeds, torch=torch, run_by=user_id)


# --- versions ----------------------------------------------------------------------------------


def version_numbered(db: Session, row: QuestionRow, number: int) -> QuestionVersion:
    """The question's version by the number its history shows; 404 naming it otherwise."""
    version = db.scalar(
        select(QuestionVersion).where(
            QuestionVersion.question_id == row.id, QuestionVersion.number == number
        )
    )
    if version is None:
        raise NotFoundError(f"'{row.slug}' has no version {number}", field="version")
    return version


# --- the bank list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BankItem:
    """One row of the bank list: the question as its newest version has it."""

    slug: str
    type: str
    difficulty: str
    tags: list[str]
    prompt: str
    status: State
    unpublished_changes: bool
    current_version_id: int
    current_version: int
    published_version: int | None
    verify: VerifyState  # the newest version's latest verify
    id: int  # the question's row
    open_reports: int = 0  # problem reports (app.reports) on any of its versions, still open


def _course(db: Session, course_id: int) -> Course:
    course = db.get(Course, course_id)
    if course is None:
        raise NotFoundError(f"no course {course_id}", field="course")
    return course


def _verify_state(passed: bool | None) -> VerifyState:
    return "none" if passed is None else "passed" if passed else "failed"


def list_questions(
    db: Session,
    course: Course,
    *,
    text: str | None = None,
    tag: str | None = None,
    difficulty: str | None = None,
    type: str | None = None,
    status: State | None = None,
    verified: VerifyState | None = None,
) -> list[BankItem]:
    """The course's questions, in bank order, filtered: status, type, difficulty and verify
    result in SQL; tag and text (over the id and prompt) in Python over that one query, since
    searching JSON is written differently on each database and a course holds hundreds of
    questions, not millions."""
    current, published = aliased(QuestionVersion), aliased(QuestionVersion)
    latest = (
        select(Verification.passed)
        .where(Verification.version_id == current.id)
        .order_by(Verification.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(QuestionRow, current, published.number, latest)
        .join(current, current.id == QuestionRow.current_version_id)
        .outerjoin(published, published.id == QuestionRow.published_version_id)
        .where(QuestionRow.course_id == course.id)
        .order_by(QuestionRow.position)
    )
    query = _filtered(query, current, latest, difficulty, type, status, verified)
    items = [
        _item(row, version, number, passed) for row, version, number, passed in db.execute(query)
    ]
    items = _with_open_reports(db, course, items)
    if tag:
        items = [item for item in items if tag in item.tags]
    if text:
        needle = text.casefold()
        items = [i for i in items if needle in i.slug.casefold() or needle in i.prompt.casefold()]
    return items


def _with_open_reports(db: Session, course: Course, items: list[BankItem]) -> list[BankItem]:
    """Each question's open problem reports (app.reports), in one query for the whole list."""
    rows = db.execute(
        select(ProblemReport.question_id, func.count())
        .where(ProblemReport.course_id == course.id, ProblemReport.status == "open")
        .group_by(ProblemReport.question_id)
    )
    counts = {question_id: count for question_id, count in rows}
    return [replace(item, open_reports=counts.get(item.id, 0)) for item in items]


def _filtered(
    query: Any,
    current: Any,
    latest: Any,
    difficulty: str | None,
    type: str | None,
    status: State | None,
    verified: VerifyState | None,
) -> Any:
    if difficulty:
        query = query.where(current.difficulty == difficulty)
    if type:
        query = query.where(current.type == type)
    if status == "retired":
        query = query.where(QuestionRow.retired_at.is_not(None))
    elif status is not None:
        query = query.where(QuestionRow.retired_at.is_(None))
        published = QuestionRow.published_version_id
        query = query.where(published.is_(None) if status == "draft" else published.is_not(None))
    if verified == "none":
        query = query.where(latest.is_(None))
    elif verified is not None:
        query = query.where(latest == (verified == "passed"))
    return query


def _item(
    row: QuestionRow, version: QuestionVersion, published: int | None, passed: bool | None
) -> BankItem:
    status = bank.status_of(row)
    return BankItem(
        id=row.id,
        slug=row.slug,
        type=version.type,
        difficulty=version.difficulty,
        tags=list(version.data.get("tags", [])),
        prompt=str(version.data.get("prompt", "")),
        status=status.state,  # type: ignore[arg-type]
        unpublished_changes=status.unpublished_changes,
        current_version_id=version.id,
        current_version=version.number,
        published_version=published,
        verify=_verify_state(passed),
    )


# --- many at once ------------------------------------------------------------------------------


def bulk_tag(
    db: Session,
    course: Course,
    slugs: Sequence[str],
    add: Sequence[str],
    remove: Sequence[str],
    author_id: int | None,
) -> list[str]:
    """Add and remove tags on each question: a new version of each one that changes (the
    slugs of those). A question left with no tag is refused: the schema needs one."""
    changed = []
    for slug in slugs:
        row = bank.find_question(db, course, slug)
        current = bank.version_of(db, row)
        old = bank.model_of(current)
        tags = [t for t in old.tags if t not in remove] + [
            t for t in dict.fromkeys(add) if t not in old.tags and t not in remove
        ]
        if tags == old.tags:
            continue
        question = _validated({**old.model_dump(mode="json"), "tags": tags})
        words = _tag_message(add, remove)
        bank.save_question(
            db,
            course,
            slug,
            question,
            base_version_id=current.id,
            author_id=author_id,
            message=words,
        )
        changed.append(slug)
    return changed


def _tag_message(add: Sequence[str], remove: Sequence[str]) -> str:
    parts = [f"tagged {', '.join(add)}"] if add else []
    parts += [f"untagged {', '.join(remove)}"] if remove else []
    return "; ".join(parts)


# --- what learners are served: every change announced here (app.authoring.practice) --------


def publish(db: Session, catalog: Catalog, course: Course, slug: str) -> QuestionVersion:
    """Learners get the newest version from now on (bank.publish says when it may not)."""
    version = bank.publish(db, course, slug)
    course_changed(db, catalog, course)
    return version


def retire(db: Session, catalog: Catalog, course: Course, slug: str) -> QuestionRow:
    """Out of new sessions; its history and the answers given to it stay."""
    row = bank.retire(db, course, slug)
    course_changed(db, catalog, course)
    return row


def bulk_retire(db: Session, catalog: Catalog, course: Course, slugs: Sequence[str]) -> list[str]:
    """Retire each question (all or none: an unknown slug refuses the lot)."""
    retired = [bank.retire(db, course, slug).slug for slug in slugs]
    course_changed(db, catalog, course)
    return retired


def copy_shipped(
    db: Session,
    course: Course,
    catalog: Catalog,
    shipped_slug: str,
    *,
    new_id: str | None = None,
    author_id: int | None,
) -> QuestionRow:
    """A draft in the course bank with a shipped question's content as its file states it
    (variants as templates, not one drawn variant), under its own id or `new_id`."""
    source = catalog.question(shipped_slug).source
    question = (
        source if new_id is None else _validated({**source.model_dump(mode="json"), "id": new_id})
    )
    return bank.create_question(
        db,
        course,
        question,
        author_id=author_id,
        message=f"copied from the shipped bank's '{shipped_slug}'",
    )


# --- a question from a request -----------------------------------------------------------------


class InvalidQuestionError(AppError):
    """The question does not validate: every problem in `errors`, by field, with the same
    messages as `torchquiz questions check`."""

    status = 422
    code = "validation_error"

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"{first.field}: {first.message}" if first.field else first.message,
            field=first.field or None,
        )
        self.errors = [{"field": p.field, "message": p.message} for p in problems]


def question_from(body: dict[str, Any]) -> AnyQuestion:
    """The question an author sent: `{"yaml": "..."}` (its source text), `{"question": {...}}`,
    or the question's JSON itself; 422 naming every field at fault otherwise."""
    if "yaml" in body:
        if not isinstance(body["yaml"], str):
            raise InvalidQuestionError([Problem("question", "yaml", "must be the YAML as text")])
        return _parsed(body["yaml"])
    data = body.get("question", body)
    if not isinstance(data, dict):
        raise InvalidQuestionError([Problem("question", "question", "must be a JSON object")])
    return _validated(data)


def _validated(data: dict[str, Any]) -> AnyQuestion:
    """JSON data through the YAML path, so both give the same messages: a safe dump of JSON
    values reads back as the same values (floats keep their type, unlike JSON text read as
    YAML 1.1, where 1e-05 is a string)."""
    return _parsed(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def _parsed(text: str) -> AnyQuestion:
    problems: list[Problem] = []
    question = parse_text(text, "question", QuestionAdapter, problems)
    if question is None:  # a problem of the text as a whole is the `yaml` field's
        raise InvalidQuestionError(
            [Problem(p.path, p.field or "yaml", p.message) for p in problems]
        )
    return question  # type: ignore[no-any-return]
