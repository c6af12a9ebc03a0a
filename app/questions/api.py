"""JSON routes for topics and questions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.bank.schema import Difficulty
from app.core.bounds import Slug, Tag
from app.core.etags import NOT_MODIFIED, tagged
from app.core.pagination import Limit, Offset, Page, page_of
from app.core.routing import UnitOfWorkRoute
from app.questions import service
from app.questions.deps import CatalogDep
from app.questions.schemas import QuestionPublic, TopicDetail, TopicSummary

router = APIRouter(tags=["topics"], route_class=UnitOfWorkRoute)


@router.get("/topics")
def list_topics(catalog: CatalogDep, limit: Limit = 50, offset: Offset = 0) -> Page[TopicSummary]:
    """Topics on offer, with question counts per difficulty."""
    return Page[TopicSummary](**page_of(service.list_topics(catalog), limit=limit, offset=offset))


@router.get("/topics/{slug}")
def get_topic(slug: Slug, catalog: CatalogDep) -> TopicDetail:
    """One topic with its concept notes."""
    return service.topic_detail(catalog, slug)


@router.get("/topics/{slug}/questions")
def list_questions(
    slug: Slug,
    catalog: CatalogDep,
    difficulty: Difficulty | None = None,
    tag: Tag | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[QuestionPublic]:
    """A topic's questions as a learner sees them before answering: no answers, no solutions."""
    chosen = service.filter_questions(catalog.topic(slug), difficulty=difficulty, tag=tag)
    items = [service.public_question(q.model) for q in chosen]
    return Page[QuestionPublic](**page_of(items, limit=limit, offset=offset))


@router.get("/questions/{question_id}", response_model=QuestionPublic, responses=NOT_MODIFIED)
def get_question(question_id: Slug, catalog: CatalogDep, request: Request) -> Response:
    """One question, without its answer; with its ETag (If-None-Match: 304)."""
    return tagged(request, service.public_question(catalog.question(question_id).model))
