"""JSON routes for a learner's progress and mistakes."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.bounds import Slug
from app.core.deps import SessionDep
from app.core.pagination import Limit, Offset, Page, page_of
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import LearnerDep
from app.progress import service
from app.progress.schemas import Mistake, TopicProgress
from app.questions.deps import CatalogDep

router = APIRouter(tags=["progress"], route_class=UnitOfWorkRoute)


@router.get("/progress")
def progress(
    db: SessionDep, catalog: CatalogDep, learner: LearnerDep, limit: Limit = 50, offset: Offset = 0
) -> Page[TopicProgress]:
    """Per topic: questions seen, correct rate, and the same per difficulty."""
    items = service.all_progress(db, catalog, learner.known_id())
    return Page[TopicProgress](**page_of(items, limit=limit, offset=offset))


@router.get("/topics/{slug}/mistakes")
def mistakes(
    slug: Slug,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Mistake]:
    """Questions whose latest answer was wrong, most recent first."""
    items = service.mistakes(db, catalog, learner.known_id(), catalog.topic(slug))
    return Page[Mistake](**page_of(items, limit=limit, offset=offset))
