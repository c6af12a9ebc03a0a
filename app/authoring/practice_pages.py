"""The course page's "Practice the course's questions": a practice session over the course
bank's published questions, for its enrolled learners and staff (`course:view`). The session's
own pages are the attempts pages, as for any topic."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from app.authoring.practice import NothingToPractiseError, served_course, start_course_practice
from app.core.deps import RngDep, SessionDep
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.courses.deps import MemberDep
from app.learners.deps import CsrfProtected, LearnerDep
from app.questions.deps import CatalogDep

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@router.get("/courses/{slug}/practice")
def course_practice_page(
    request: Request, db: SessionDep, catalog: CatalogDep, access: MemberDep
) -> Response:
    topic = served_course(db, catalog, access.course)
    context = {"course": access.course, "count": len(topic.questions)}
    return render_page(request, "authoring/practice_start.html", context)


@router.post("/courses/{slug}/practice", dependencies=[CsrfProtected])
def start_course_practice_form(
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    access: MemberDep,
    learner: LearnerDep,
    rng: RngDep,
) -> Response:
    course = access.course
    try:
        session = start_course_practice(db, catalog, course, learner.get_or_create(), rng=rng)
    except NothingToPractiseError:  # the start page says so
        url = request.url_for("course_practice_page", slug=course.slug)
        return RedirectResponse(url, status_code=303)
    url = request.url_for("practice_page", session_id=session.public_id, position=1)
    return RedirectResponse(url, status_code=303)
