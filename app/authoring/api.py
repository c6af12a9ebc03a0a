"""A course's own question bank over the API: the same service functions as the editor pages
(app.authoring.service, app.authoring.bank), every route behind the course's content
permissions (app.courses.deps)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status
from sqlalchemy.orm import Session

from app.authoring import bank, service
from app.authoring.schemas import (
    BankItemOut,
    BulkIn,
    BulkOut,
    CopyIn,
    DiffOut,
    HistoryOut,
    QuestionList,
    QuestionOut,
    RevertIn,
    SaveIn,
    VerifyOut,
    VersionDetail,
    VersionOut,
)
from app.authoring.service import State, VerifyState
from app.bank.formats.yaml_zip import to_yaml
from app.bank.loader import Problem
from app.core.bounds import INT32_MAX, Slug, Tag
from app.core.deps import DatabaseDep, SessionDep
from app.core.errors import NotFoundError
from app.core.routing import UnitOfWorkRoute
from app.courses.deps import ContentViewDep, CourseAccess, course_access
from app.courses.models import Course
from app.questions.catalog import Catalog
from app.questions.deps import CatalogDep
from app.questions.models import QuestionRow, QuestionVersion
from app.runner.deps import MaybeRunnerDep, RunnerStateDep

router = APIRouter(prefix="/courses", tags=["course banks"], route_class=UnitOfWorkRoute)
ContentEditDep = Annotated[CourseAccess, Depends(course_access("content:edit"))]
QUESTIONS = "/{slug}/questions"
QUESTION = QUESTIONS + "/{qid}"


EditEndedDep = Annotated[CourseAccess, Depends(course_access("content:edit", then_close=True))]


def _question_out(db: Session, row: QuestionRow) -> QuestionOut:
    version = bank.version_of(db, row)
    model = bank.model_of(version)
    verified = bank.latest_verification(db, version.id)
    published = (
        db.get(QuestionVersion, row.published_version_id) if row.published_version_id else None
    )
    state = bank.status_of(row)
    return QuestionOut(
        id=row.slug,
        status=state.state,
        unpublished_changes=state.unpublished_changes,
        published_version=published.number if published else None,
        version=VersionOut.of(version),
        question=model.model_dump(mode="json"),
        yaml=to_yaml(model).decode(),
        verify=VerifyOut.of(verified) if verified else None,
    )


@router.get(QUESTIONS, summary="List and search the course's bank")
def list_questions(
    db: SessionDep,
    access: ContentViewDep,
    text: Annotated[str | None, Query(max_length=200, description="In the id or prompt.")] = None,
    tag: Tag | None = None,
    difficulty: Annotated[str | None, Query(max_length=10)] = None,
    type: Annotated[str | None, Query(max_length=30)] = None,
    status: State | None = None,
    verified: Annotated[VerifyState | None, Query(description="The newest version's.")] = None,
) -> QuestionList:
    """Every question of the course's own bank, newest versions, in bank order; filtered by
    text, tag, difficulty, type, status and the latest verify's result."""
    items = service.list_questions(
        db,
        access.course,
        text=text,
        tag=tag,
        difficulty=difficulty,
        type=type,
        status=status,
        verified=verified,
    )
    return QuestionList(questions=[BankItemOut.of(i) for i in items], count=len(items))


CREATE_EXAMPLES = {
    "yaml": {"summary": "As YAML", "value": {"yaml": "id: my-question\ntype: numeric\n..."}},
    "json": {"summary": "As JSON", "value": {"id": "my-question", "type": "numeric"}},
}


@router.post(QUESTIONS, status_code=status.HTTP_201_CREATED, summary="Create a draft question")
def create_question(
    db: SessionDep,
    access: ContentEditDep,
    body: Annotated[dict[str, Any], Body(openapi_examples=CREATE_EXAMPLES)],
) -> QuestionOut:
    """A new draft: the question as JSON (the schema of `torchquiz questions check`), or
    `{"yaml": "..."}` with its YAML source (and an optional `"message"`). 422 names every
    field at fault; 409 when the course has a question with this id."""
    message = "created"
    if "yaml" in body or "question" in body:
        message = _message(body.get("message", message))
    question = service.question_from(body)
    row = bank.create_question(
        db, access.course, question, author_id=access.account.user_id, message=message
    )
    return _question_out(db, row)


def _message(value: object) -> str:
    if not isinstance(value, str) or len(value) > 500 or "\x00" in value:
        raise service.InvalidQuestionError(
            [Problem("request", "message", "must be text of at most 500 characters")]
        )
    return value


@router.post(
    QUESTIONS + "/copy",
    status_code=status.HTTP_201_CREATED,
    summary="Copy a shipped question into the course",
)
def copy_question(
    body: CopyIn, db: SessionDep, access: ContentEditDep, catalog: CatalogDep
) -> QuestionOut:
    """A draft with the shipped question's content (under `new_id`, or its own id), to adapt."""
    row = service.copy_shipped(
        db,
        access.course,
        catalog,
        body.shipped_id,
        new_id=body.new_id,
        author_id=access.account.user_id,
    )
    return _question_out(db, row)


@router.post(QUESTIONS + "/bulk", summary="Tag, retire or verify many questions")
async def bulk(
    body: BulkIn,
    database: DatabaseDep,
    access: EditEndedDep,
    runner: MaybeRunnerDep,
    runner_state: RunnerStateDep,
    catalog: CatalogDep,
) -> BulkOut:
    """`tag` (add_tags, remove_tags: a new version of each question that changes), `retire`,
    or `verify` (each newest version against torch). All or nothing: an unknown id refuses
    the lot with 404."""
    course_id, user_id = access.course.id, access.account.user_id
    if body.action == "verify":
        rows = await service.bulk_verify(
            database, runner, runner_state, course_id, body.ids, user_id
        )
        verifications = [VerifyOut.of(row) for row in rows]
        return BulkOut(action="verify", changed=[], verifications=verifications)
    changed = await database.run(_bulk_change, course_id, body, user_id, catalog)
    return BulkOut(action=body.action, changed=changed)


def _bulk_change(
    db: Session, course_id: int, body: BulkIn, user_id: int, catalog: Catalog
) -> list[str]:
    course = db.get(Course, course_id)
    if course is None:
        raise NotFoundError("the course is gone", field="course")
    if body.action == "tag":
        return service.bulk_tag(db, course, body.ids, body.add_tags, body.remove_tags, user_id)
    return service.bulk_retire(db, catalog, course, body.ids)


@router.get(QUESTION, summary="A question's newest version")
def get_question(
    qid: Slug, db: SessionDep, access: ContentViewDep, response: Response
) -> QuestionOut:
    """Its newest version (JSON and YAML), status, published version and latest verify. The
    ETag is the newest version's content hash."""
    out = _question_out(db, bank.find_question(db, access.course, qid))
    response.headers["ETag"] = f'"{out.version.content_hash}"'
    return out


@router.put(QUESTION, summary="Save a new version")
def save_question(qid: Slug, body: SaveIn, db: SessionDep, access: ContentEditDep) -> QuestionOut:
    """A new version from `question` (JSON) or `yaml`, edited from `base_version_id`. 409 with
    `diff` and `current_version_id` when someone saved since; 409 when the id changes."""
    if body.yaml is not None:
        question = service.question_from({"yaml": body.yaml})
    elif body.question is not None:
        question = service.question_from(body.question)
    else:
        raise service.InvalidQuestionError(
            [Problem("request", "question", "send the question as `question` or as `yaml`")]
        )
    try:
        bank.save_question(
            db,
            access.course,
            qid,
            question,
            base_version_id=body.base_version_id,
            author_id=access.account.user_id,
            message=body.message,
        )
    except bank.StaleEditError as stale:
        stale.extra = {"diff": stale.diff, "current_version_id": stale.current_version_id}
        raise
    return _question_out(db, bank.find_question(db, access.course, qid))


@router.get(QUESTION + "/versions", summary="A question's history")
def versions(qid: Slug, db: SessionDep, access: ContentViewDep) -> HistoryOut:
    row = bank.find_question(db, access.course, qid)
    return HistoryOut(versions=[VersionOut.of(v) for v in bank.history(db, row)])


@router.get(QUESTION + "/versions/{number}", summary="One version of a question")
def version(
    qid: Slug,
    number: Annotated[int, Path(ge=1, le=INT32_MAX)],
    db: SessionDep,
    access: ContentViewDep,
) -> VersionDetail:
    row = bank.find_question(db, access.course, qid)
    found = service.version_numbered(db, row, number)
    model = bank.model_of(found)
    return VersionDetail(
        version=VersionOut.of(found),
        question=model.model_dump(mode="json"),
        yaml=to_yaml(model).decode(),
    )


@router.get(QUESTION + "/diff", summary="The diff of two versions")
def diff(
    qid: Slug,
    db: SessionDep,
    access: ContentViewDep,
    old: Annotated[int | None, Query(alias="from", ge=1, le=INT32_MAX)] = None,
    new: Annotated[int | None, Query(alias="to", ge=1, le=INT32_MAX)] = None,
) -> DiffOut:
    """A unified diff of version `from`'s YAML to version `to`'s; by default, of the newest
    version to the one before it."""
    row = bank.find_question(db, access.course, qid)
    to = service.version_numbered(db, row, new) if new else bank.version_of(db, row)
    start = old if old is not None else max(to.number - 1, 1)
    before = service.version_numbered(db, row, start)
    diff = bank.diff_lines(bank.model_of(before), bank.model_of(to))
    return DiffOut(from_version=before.number, to_version=to.number, diff=diff)


@router.post(QUESTION + "/revert", summary="Make an earlier version the newest")
def revert(qid: Slug, body: RevertIn, db: SessionDep, access: ContentEditDep) -> QuestionOut:
    bank.revert(db, access.course, qid, body.number, author_id=access.account.user_id)
    return _question_out(db, bank.find_question(db, access.course, qid))


@router.post(QUESTION + "/verify", summary="Verify the newest version against torch")
async def verify(
    qid: Slug,
    database: DatabaseDep,
    access: EditEndedDep,
    runner: MaybeRunnerDep,
    runner_state: RunnerStateDep,
) -> VerifyOut:
    """Every claim the newest version makes, run against real torch, beside what torch did;
    recorded on that version (publishing needs it to pass). 503 with Retry-After while the
    runner warms up."""
    row = await service.verify_current(
        database, runner, runner_state, access.course.id, qid, access.account.user_id
    )
    return VerifyOut.of(row)


@router.post(QUESTION + "/publish", summary="Publish the newest version to learners")
def publish(qid: Slug, db: SessionDep, access: ContentEditDep, catalog: CatalogDep) -> QuestionOut:
    """409 unless the newest version's latest verify passed and its torch claims are tied
    to a check; the message names the failing field."""
    service.publish(db, catalog, access.course, qid)
    return _question_out(db, bank.find_question(db, access.course, qid))


@router.post(QUESTION + "/retire", summary="Retire a question")
def retire(qid: Slug, db: SessionDep, access: ContentEditDep, catalog: CatalogDep) -> QuestionOut:
    """Out of new sessions; its history and the answers given to it stay."""
    row = service.retire(db, catalog, access.course, qid)
    return _question_out(db, row)
