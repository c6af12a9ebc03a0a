"""Gradebook pages: results per assignment, one learner, one attempt, overrides, regrade,
audit log.

Thin faces over the service modules the API uses too (app.gradebook.service, overrides,
regrade, export, audit). Reading asks `results:view`; the override form and the regrade (its
dry run included, the page of a change) ask `results:edit`. Forms post and redirect (303) with
a notice; a refused one is the same page again, the problem next to its field.

The table holds no form: at a few hundred learners a form per row made the page hundreds of
kilobytes, most of its time spent rendering (bench/gradebook.py). Each row links to the
learner's own page, which holds their attempts and the override form.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.attempts.assignments import course_assignment
from app.attempts.models import Assignment
from app.core.bounds import Count, PublicId
from app.core.deps import SessionDep
from app.core.errors import AppError, ConflictError
from app.core.forms import field_problems
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.courses.deps import CourseAccess, ResultsEditDep, ResultsViewDep
from app.gradebook import api, audit, overrides, regrade, service
from app.gradebook.schemas import OverrideIn, OverrideRemoval
from app.learners.deps import CsrfProtected
from app.questions.catalog import Catalog
from app.questions.deps import CatalogDep

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
ASSIGNMENT = "/courses/{slug}/assignments/{aid}"
FormText = Annotated[str, Form()]
AUDIT_PAGE = 50

NOTICES = {
    "override": "Grade set. The change is in the audit log.",
    "override-removed": "Override removed: the best attempt's grade counts again.",
    "regraded": "Regrade applied. Each changed attempt is in the audit log.",
}


def _viewed(db: SessionDep, access: ResultsViewDep, aid: PublicId) -> Assignment:
    return course_assignment(db, access.course.id, aid)


def _edited(db: SessionDep, access: ResultsEditDep, aid: PublicId) -> Assignment:
    return course_assignment(db, access.course.id, aid)


ViewedDep = Annotated[Assignment, Depends(_viewed)]
EditedDep = Annotated[Assignment, Depends(_edited)]


def _go(request: Request, name: str, done: str, **params: Any) -> RedirectResponse:
    url = request.url_for(name, **params).include_query_params(done=done)
    return RedirectResponse(url, status_code=303)


@router.get(ASSIGNMENT + "/gradebook", name="gradebook_page")
def gradebook_page(
    request: Request, db: SessionDep, access: ResultsViewDep, assignment: ViewedDep
) -> Response:
    context = {
        "course": access.course,
        "can": access.permissions,
        "book": service.gradebook(db, assignment),
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render_page(request, "gradebook/gradebook.html", context)


def _learner_page(
    request: Request,
    db: Session,
    access: CourseAccess,
    assignment: Assignment,
    learner_id: str,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "course": access.course,
        "assignment": assignment,
        "row": service.learner_grades(db, assignment, learner_id),
        "editable": access.can("results:edit"),
        "problems": problems or {},
        "values": values or {},
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render_page(request, "gradebook/learner.html", context, status_code=status)


@router.get(ASSIGNMENT + "/learners/{learner_id}", name="gradebook_learner_page")
def learner_page(
    learner_id: PublicId,
    request: Request,
    db: SessionDep,
    access: ResultsViewDep,
    assignment: ViewedDep,
) -> Response:
    """One learner's attempts and grade, and the override form for whoever may change it."""
    return _learner_page(request, db, access, assignment, learner_id)


@router.get(ASSIGNMENT + "/gradebook.csv", name="gradebook_csv_page")
def gradebook_csv_page(db: SessionDep, access: ResultsViewDep, assignment: ViewedDep) -> Response:
    return api.csv_response(service.gradebook(db, assignment))


@router.get(ASSIGNMENT + "/attempts/{session_id}", name="gradebook_attempt_page")
def attempt_page(
    session_id: PublicId,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    access: ResultsViewDep,
    assignment: ViewedDep,
) -> Response:
    review = service.attempt_review(db, catalog, assignment, session_id)
    context = {"course": access.course, "assignment": assignment, "review": review}
    return render_page(request, "gradebook/attempt.html", context)


def _parse(model: type[BaseModel], values: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, field_problems(exc)


@router.post(ASSIGNMENT + "/overrides/{learner_id}", dependencies=[CsrfProtected])
def override_form(
    slug: str,
    aid: str,
    learner_id: PublicId,
    request: Request,
    db: SessionDep,
    access: ResultsEditDep,
    assignment: EditedDep,
    percent: FormText = "",
    reason: FormText = "",
    action: FormText = "set",
) -> Response:
    """Set the grade (percent and reason), or with the remove button take the override off."""
    removing = action == "remove"
    if removing:
        form, problems = _parse(OverrideRemoval, {"reason": reason})
    else:
        form, problems = _parse(OverrideIn, {"percent": percent or None, "reason": reason})
    if form is None:
        values = {"percent": percent, "reason": reason}
        return _learner_page(
            request,
            db,
            access,
            assignment,
            learner_id,
            problems=problems,
            values=values,
            status=422,
        )
    actor = access.account.user_id
    if removing:
        overrides.remove_override(db, assignment, learner_id, reason=form.reason, actor_id=actor)
    else:
        overrides.set_override(
            db, assignment, learner_id, percent=form.percent, reason=form.reason, actor_id=actor
        )
    done = "override-removed" if removing else "override"
    return _go(request, "gradebook_learner_page", done, slug=slug, aid=aid, learner_id=learner_id)


def _regrade_page(
    request: Request,
    db: Session,
    catalog: Catalog,
    access: CourseAccess,
    assignment: Assignment,
    *,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    plan = regrade.plan(db, catalog, assignment)
    context = {
        "course": access.course,
        "assignment": assignment,
        "plan": plan,
        "expected": json.dumps(plan.versions, sort_keys=True),
        "problem": problem,
    }
    return render_page(request, "gradebook/regrade.html", context, status_code=status)


@router.get(ASSIGNMENT + "/regrade", name="regrade_page")
def regrade_page(
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    access: ResultsEditDep,
    assignment: EditedDep,
) -> Response:
    """The dry run: what a regrade would change; nothing is written until confirmed."""
    return _regrade_page(request, db, catalog, access, assignment)


@router.post(ASSIGNMENT + "/regrade", dependencies=[CsrfProtected])
def regrade_form(
    slug: str,
    aid: str,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    access: ResultsEditDep,
    assignment: EditedDep,
    expected: FormText = "",
) -> Response:
    try:
        versions = json.loads(expected)
        if not isinstance(versions, dict):
            raise ValueError
    except ValueError:
        raise AppError("expected: the dry run's versions, as JSON", field="expected") from None
    try:
        regrade.apply(db, catalog, assignment, versions, actor_id=access.account.user_id)
    except ConflictError as error:
        db.rollback()
        return _regrade_page(
            request, db, catalog, access, assignment, problem=error.message, status=409
        )
    return _go(request, "gradebook_page", "regraded", slug=slug, aid=aid)


@router.get("/courses/{slug}/audit", name="audit_page")
def audit_page(
    request: Request,
    db: SessionDep,
    access: ResultsViewDep,
    offset: Annotated[Count, Query()] = 0,
) -> Response:
    changes, total = audit.course_log(db, access.course.id, limit=AUDIT_PAGE, offset=offset)
    context = {
        "course": access.course,
        "changes": changes,
        "total": total,
        "offset": offset,
        "limit": AUDIT_PAGE,
    }
    return render_page(request, "gradebook/audit.html", context)
