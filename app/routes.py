"""Every router, mounted once: the JSON API under /api/v1 and the HTML pages at the root."""

from functools import cache

from fastapi import APIRouter
from fastapi.responses import Response

from app.attempts import api as attempts_api
from app.attempts import pages as attempts_pages
from app.core.markdown import pygments_css
from app.core.routing import UnitOfWorkRoute
from app.learners import api as learners_api
from app.progress import api as progress_api
from app.progress import pages as progress_pages
from app.questions import api as questions_api
from app.questions import pages as questions_pages

api_router = APIRouter(prefix="/api/v1")
for module in (questions_api, attempts_api, progress_api, learners_api):
    api_router.include_router(module.router)

page_router = APIRouter(route_class=UnitOfWorkRoute)
for page_module in (questions_pages, attempts_pages, progress_pages):
    page_router.include_router(page_module.router)


@page_router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """Static liveness answer; also the baseline of the load benchmark."""
    return {"status": "ok"}


@cache
def _pygments_css() -> str:
    return pygments_css()


@page_router.get("/assets/code.css", include_in_schema=False, name="pygments_css")
def code_css() -> Response:
    """Syntax-highlighting styles, generated from Pygments so they match its markup."""
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(_pygments_css(), media_type="text/css", headers=headers)
