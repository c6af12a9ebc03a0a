"""JSON routes for a learner's progress and mistakes."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.deps import CatalogDep, LearnerDep, SessionDep
from app.core.routing import UnitOfWorkRoute
from app.progress import service
from app.progress.schemas import Mistake, TopicProgress

router = APIRouter(tags=["progress"], route_class=UnitOfWorkRoute)


@router.get("/progress")
def progress(db: SessionDep, catalog: CatalogDep, learner: LearnerDep) -> list[TopicProgress]:
    """Per topic: questions seen, correct rate, and the same per difficulty."""
    return service.all_progress(db, catalog, learner.known_id())


@router.get("/topics/{slug}/mistakes")
def mistakes(slug: str, db: SessionDep, catalog: CatalogDep, learner: LearnerDep) -> list[Mistake]:
    """Questions whose latest answer was wrong, most recent first."""
    return service.mistakes(db, catalog, learner.known_id(), catalog.topic(slug))
