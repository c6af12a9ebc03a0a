"""Assignment pages: the course's list (all of them for staff, the open ones for learners), the
staff's form to set or change one, and a learner's start page. Forms post and redirect (303);
a refused form is the same page again, each problem beside its field, with what was typed.
The same service functions as the API (app.assignments.staff, app.assignments.learning)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.assignments import learning, staff
from app.assignments.forms import AssignmentForm
from app.assignments.schemas import AssignmentIn
from app.attempts import assignments
from app.bank.schema import Difficulty
from app.core.bounds import PublicId
from app.core.deps import RngDep, SessionDep
from app.core.errors import AppError
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.courses.deps import CourseAccess, MemberDep, course_access
from app.learners.deps import CsrfProtected, LearnerDep, MaybeAccountDep
from app.questions.catalog import Catalog, CatalogTopic
from app.questions.deps import CatalogDep

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
ContentEditDep = Annotated[CourseAccess, Depends(course_access("content:edit"))]

NOTICES = {
    "created": "Assignment set. Share its link with your learners.",
    "saved": "Assignment saved. Attempts already started keep their questions.",
    "archived": "Assignment archived: learners no longer see it; its results stay.",
}
FEEDBACK = {
    "immediately": "Immediately, after each answer",
    "after_submission": "After the attempt is submitted",
    "after_close": "After the close date",
    "never": "Never (the score only)",
}
LATE = {
    "refuse": "Refuse attempts after the close date",
    "penalty": "Accept late attempts, with a penalty",
}


async def posted_form(request: Request) -> list[tuple[str, str]]:
    """Every text field of the posted form, repeated names (checkboxes) kept."""
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


PostedDep = Annotated[list[tuple[str, str]], Depends(posted_form)]


def _go(request: Request, name: str, done: str, **params: Any) -> RedirectResponse:
    url = request.url_for(name, **params).include_query_params(done=done)
    return RedirectResponse(url, status_code=303)


# --- the course's list ---


@router.get("/courses/{slug}/assignments")
def assignments_page(request: Request, db: SessionDep, access: MemberDep) -> Response:
    staff_view = access.can("content:view")
    context = {
        "course": access.course,
        "can": access.permissions,
        "rows": staff.list_assignments(db, access.course) if staff_view else [],
        "open": [] if staff_view else staff.open_now(db, access.course),
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render_page(request, "assignments/list.html", context)


@router.post("/courses/{slug}/assignments/{aid}/archive", dependencies=[CsrfProtected])
def archive_assignment_form(
    aid: PublicId, request: Request, db: SessionDep, access: ContentEditDep
) -> Response:
    staff.archive(db, assignments.course_assignment(db, access.course.id, aid))
    return _go(request, "assignments_page", "archived", slug=access.course.slug)


# --- the staff's form ---


def _first_words(markdown: str, words: int = 10) -> str:
    text = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    found = re.sub(r"[`*_#>\[\]]", "", text).split()
    return " ".join(found[:words]) + (" …" if len(found) > words else "")


def _pool(topics: list[CatalogTopic]) -> list[dict[str, Any]]:
    """Each source with its questions, labelled as the form lists them."""
    return [
        {
            "slug": topic.slug,
            "title": topic.topic.title,
            "questions": [
                {
                    "ref": f"{topic.slug}/{q.slug}",
                    "difficulty": q.difficulty.value,
                    "words": _first_words(q.model.prompt),
                }
                for q in topic.questions
            ],
        }
        for topic in topics
    ]


def _form_page(
    request: Request,
    db: Session,
    catalog: Catalog,
    access: CourseAccess,
    form: AssignmentForm,
    *,
    aid: str | None = None,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    topics = staff.offered_sources(db, catalog, access.course)
    context = {
        "course": access.course,
        "aid": aid,
        "form": form,
        "problems": problems or {},
        "pool": _pool(topics),
        "bank_slug": topics[0].slug,
        "difficulties": [d.value for d in Difficulty],
        "tags": sorted({tag for topic in topics for tag in topic.tags()}),
        "feedback": FEEDBACK,
        "late": LATE,
    }
    return render_page(request, "assignments/form.html", context, status_code=status)


def _saved_or_refused(
    request: Request,
    db: Session,
    catalog: Catalog,
    access: CourseAccess,
    posted: list[tuple[str, str]],
    save: Any,
    aid: str | None = None,
) -> Response:
    """Parse the form and `save(parsed)`, or show the form again with the problems."""
    form = AssignmentForm.posted(posted)
    parsed, problems = form.parse()
    if parsed is None:
        return _form_page(
            request, db, catalog, access, form, aid=aid, problems=problems, status=422
        )
    try:
        return save(parsed)  # type: ignore[no-any-return]
    except AppError as error:
        db.rollback()
        problems = {error.field or "form": error.message}
        return _form_page(
            request, db, catalog, access, form, aid=aid, problems=problems, status=error.status
        )


@router.get("/courses/{slug}/assignments/new")
def new_assignment_page(
    request: Request, db: SessionDep, catalog: CatalogDep, access: ContentEditDep
) -> Response:
    return _form_page(request, db, catalog, access, AssignmentForm())


@router.post("/courses/{slug}/assignments", dependencies=[CsrfProtected])
def create_assignment_form(
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    access: ContentEditDep,
    posted: PostedDep,
) -> Response:
    def save(parsed: AssignmentIn) -> Response:
        staff.create(
            db,
            catalog,
            access.course,
            parsed.title,
            parsed.rules,
            created_by=access.account.user_id,
        )
        return _go(request, "assignments_page", "created", slug=access.course.slug)

    return _saved_or_refused(request, db, catalog, access, posted, save)


@router.get("/courses/{slug}/assignments/{aid}/edit")
def edit_assignment_page(
    aid: PublicId, request: Request, db: SessionDep, catalog: CatalogDep, access: ContentEditDep
) -> Response:
    assignment = assignments.course_assignment(db, access.course.id, aid)
    form = AssignmentForm.of(assignment.title, assignments.rules_of(assignment))
    return _form_page(request, db, catalog, access, form, aid=aid)


@router.post("/courses/{slug}/assignments/{aid}/edit", dependencies=[CsrfProtected])
def update_assignment_form(
    aid: PublicId,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    access: ContentEditDep,
    posted: PostedDep,
) -> Response:
    assignment = assignments.course_assignment(db, access.course.id, aid)

    def save(parsed: AssignmentIn) -> Response:
        staff.update(db, catalog, access.course, assignment, parsed.title, parsed.rules)
        return _go(request, "assignments_page", "saved", slug=access.course.slug)

    return _saved_or_refused(request, db, catalog, access, posted, save, aid=aid)


# --- a learner's start page ---


def _start_page(
    request: Request,
    db: Session,
    account: Any,
    learner_id: int | None,
    aid: str,
    *,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    assignment, course = learning.member_assignment(db, account, aid)
    view = learning.start_view(db, assignment, course, learner_id)
    context = {"view": view, "course": course, "problem": problem}
    return render_page(request, "assignments/start.html", context, status_code=status)


@router.get("/assignments/{aid}")
def assignment_page(
    aid: PublicId,
    request: Request,
    db: SessionDep,
    account: MaybeAccountDep,
    learner: LearnerDep,
) -> Response:
    return _start_page(request, db, account, learner.known_id(), aid)


@router.post("/assignments/{aid}/start", dependencies=[CsrfProtected])
def start_assignment_form(
    aid: PublicId,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    account: MaybeAccountDep,
    learner: LearnerDep,
    rng: RngDep,
) -> Response:
    """Start or continue, then the attempt's first question; refused: the start page, saying
    why."""
    assignment, course = learning.member_assignment(db, account, aid)
    me = learner.get_or_create()
    try:
        session, _new = learning.start(db, catalog, assignment, course, me, rng)
    except AppError as refused:  # closed, or nothing to draw: nothing was written for it
        return _start_page(
            request, db, account, me.id, aid, problem=refused.message, status=refused.status
        )
    url = request.url_for("test_page", session_id=session.public_id, position=1)
    return RedirectResponse(url, status_code=303)
