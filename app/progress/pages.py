"""HTML pages for progress and for reviewing mistakes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.attempts.summary import learner_sessions
from app.core.bounds import Slug
from app.core.deps import SessionDep
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.deps import LearnerDep
from app.progress import service
from app.questions.deps import CatalogDep
from app.questions.service import topic_summary

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@router.get("/progress")
def progress_page(
    request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> Response:
    progress = service.all_progress(db, catalog, learner.known_id())
    tests = learner_sessions(db, catalog, learner.known_id(), mode="test")
    context = {
        "progress": progress,
        "open_tests": [t for t in tests if t.finished_at is None],
        "past_tests": [t for t in tests if t.finished_at is not None],
    }
    return render_page(request, "progress/progress.html", context)


@router.get("/topics/{slug}/mistakes")
def mistakes_page(
    slug: Slug, request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> Response:
    topic = catalog.topic(slug)
    mistakes = service.mistakes(db, catalog, learner.known_id(), topic)
    context = {"topic": topic_summary(topic), "mistakes": mistakes}
    return render_page(request, "progress/mistakes.html", context)
