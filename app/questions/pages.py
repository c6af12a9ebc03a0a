"""HTML pages for a topic's content: the concept notes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.core.bounds import Slug
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.questions import service
from app.questions.deps import CatalogDep

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@router.get("/topics/{slug}/learn")
def learn_page(slug: Slug, request: Request, catalog: CatalogDep) -> Response:
    return render_page(request, "learn.html", {"topic": service.topic_detail(catalog, slug)})
