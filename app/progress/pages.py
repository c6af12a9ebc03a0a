"""HTML pages for progress and for reviewing mistakes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from app.attempts.schemas import StartSession
from app.attempts.service import start_session
from app.core.deps import (
    CatalogDep,
    CsrfProtected,
    LearnerDep,
    RngDep,
    SessionDep,
)
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.progress import service
from app.questions.service import topic_summary

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@router.get("/progress")
def progress_page(
    request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> Response:
    progress = service.all_progress(db, catalog, learner.known_id())
    return render_page(request, "progress/progress.html", {"progress": progress})


@router.get("/topics/{slug}/mistakes")
def mistakes_page(
    slug: str, request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> Response:
    topic = catalog.topic(slug)
    mistakes = service.mistakes(db, catalog, learner.known_id(), topic)
    context = {"topic": topic_summary(topic), "mistakes": mistakes}
    return render_page(request, "progress/mistakes.html", context)


@router.post("/topics/{slug}/mistakes", dependencies=[CsrfProtected])
def practise_mistakes(
    slug: str,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    rng: RngDep,
) -> Response:
    start = StartSession(topic=slug, mode="practice", mistakes_only=True)
    session = start_session(db, catalog, learner.get_or_create(), start, rng=rng)
    url = request.url_for("practice_page", session_id=session.public_id, position=1)
    return RedirectResponse(url, status_code=303)
