"""HTML pages for progress and for reviewing mistakes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.attempts.schemas import StartSession
from app.attempts.service import start_session
from app.core.deps import (
    CatalogDep,
    IdentityDep,
    LearnerDep,
    RngDep,
    SessionDep,
    TokensDep,
    check_csrf,
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


@router.post("/topics/{slug}/mistakes")
def practise_mistakes(
    slug: str,
    csrf_token: Annotated[str, Form()],
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    identity: IdentityDep,
    tokens: TokensDep,
    rng: RngDep,
) -> Response:
    check_csrf(tokens, identity, csrf_token)
    start = StartSession(topic=slug, mode="practice", mistakes_only=True)
    session = start_session(db, catalog, learner.get_or_create(), start, rng=rng)
    url = request.url_for("practice_page", session_id=session.public_id, position=1)
    return RedirectResponse(url, status_code=303)
