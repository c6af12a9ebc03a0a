"""Every router, mounted once: the JSON API under /api/v1 and the HTML pages at the root.

`include_all` adds each feature router to the app directly: FastAPI matches a request by
walking nested routers, and one level fewer measurably shortened every request.
"""

import asyncio
import sqlite3
from functools import cache
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import BaseRoute

from app.accounts import api as accounts_api
from app.accounts import pages as accounts_pages
from app.assignments import api as assignments_api
from app.assignments import pages as assignments_pages
from app.attempts import api as attempts_api
from app.attempts import pages as attempts_pages
from app.authoring import api as authoring_api
from app.authoring import pages as authoring_pages
from app.authoring import practice_pages as authoring_practice_pages
from app.authoring import transfer_api, transfer_pages
from app.authoring.practice import topic_links
from app.bank.grading import format_answer
from app.core import docs, openapi
from app.core.deps import SessionDep
from app.core.handlers import database_problem
from app.core.markdown import pygments_css
from app.core.openapi import Access, error_responses
from app.core.routing import UnitOfWorkRoute
from app.core.templating import templates
from app.courses import api as courses_api
from app.courses import pages as courses_pages
from app.courses.deps import CourseAccessCheck, scope_of
from app.gradebook import api as gradebook_api
from app.gradebook import pages as gradebook_pages
from app.home import pages as home_pages
from app.instructors import api as instructors_api
from app.lab import api as lab_api
from app.lab import pages as lab_pages
from app.learners import api as learners_api
from app.lti import admin_pages as lti_admin_pages
from app.lti import api as lti_api
from app.lti import pages as lti_pages
from app.lti import registration_pages as lti_registration_pages
from app.lti import services_api as lti_services_api
from app.lti import services_pages as lti_services_pages
from app.playground import api as playground_api
from app.playground import pages as playground_pages
from app.privacy import api as privacy_api
from app.privacy import pages as privacy_pages
from app.progress import api as progress_api
from app.progress import pages as progress_pages
from app.questions import api as questions_api
from app.questions import pages as questions_pages
from app.reports import api as reports_api
from app.reports import pages as reports_pages
from app.results import api as results_api
from app.runner.client import RunnerState
from app.runner.protocol import WARMING_RETRY_SECONDS
from app.runs import api as runs_api
from app.statistics import api as statistics_api
from app.statistics import pages as statistics_pages
from app.study import api as study_api
from app.study import pages as study_pages
from app.tokens import api as tokens_api
from app.tokens import pages as tokens_pages
from app.tokens.scopes import PRACTICE, describe_scopes
from app.webhooks import api as webhooks_api
from app.webhooks import pages as webhooks_pages

API_PREFIX = "/api/v1"
templates.env.globals["format_answer"] = format_answer  # answers as the pages show them
templates.env.globals["topic_links"] = topic_links  # a practice page's way back
# Requests are matched router by router, in this order: the busiest (answers) go first.
# Beside each, for the OpenAPI document: who may call it (app.core.openapi.Access) and the
# error statuses its operations answer besides 422, 404 and those of the access.
API_ROUTERS: list[tuple[APIRouter, Access, tuple[int, ...]]] = [
    (attempts_api.router, "learner", (409, 429, 503)),  # code answers run in the sandbox
    (questions_api.router, "public", ()),
    (progress_api.router, "learner", (503,)),
    (learners_api.router, "learner", ()),
    (runs_api.router, "learner", (429, 503)),
    (playground_api.router, "learner", (429, 503)),
    (lab_api.router, "learner", (429, 503)),
    (study_api.router, "learner", (429, 503)),  # a fix runs in the sandbox, as its learner
    (accounts_api.router, "account", (409, 429)),
    (courses_api.router, "account", (403, 409)),  # course roles: app.courses.permissions
    (authoring_api.router, "account", (403, 409, 503)),  # course banks; verify runs torch
    (transfer_api.router, "account", (403, 409, 413)),  # course banks in and out of files
    (assignments_api.router, "account", (403, 409)),  # set by staff, attempted by learners
    (gradebook_api.router, "account", (403, 409)),
    (lti_services_api.router, "account", (403, 409)),  # LTI roster sync (NRPS)
    (lti_api.router, "admin", (409,)),  # LTI platforms (site administrators)
    (results_api.router, "account", (403,)),  # for integrations: external ids, attempts
    (results_api.me_router, "learner", ()),
    (privacy_api.router, "learner", (403, 409)),  # your own data: download it, or delete it
    (statistics_api.router, "account", (403,)),
    (reports_api.router, "learner", (403, 409)),  # learners report; staff answer
    (instructors_api.router, "admin", (503,)),
    (tokens_api.router, "account", (403, 422)),  # a browser's own API tokens
    (webhooks_api.router, "account", (403,)),  # a course's webhooks (course:manage)
]
PAGE_ROUTERS = [
    m.router
    for m in (
        home_pages,
        questions_pages,
        attempts_pages,
        progress_pages,
        playground_pages,
        lab_pages,
        study_pages,
        accounts_pages,
        privacy_pages,  # the account page's "delete my account"
        courses_pages,
        authoring_practice_pages,
        transfer_pages,
        authoring_pages,
        assignments_pages,
        gradebook_pages,
        statistics_pages,
        reports_pages,
        lti_pages,
        lti_admin_pages,
        lti_registration_pages,
        lti_services_pages,
        tokens_pages,
        webhooks_pages,
    )
]

site_router = APIRouter(route_class=UnitOfWorkRoute)


@site_router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """Static liveness answer (the process is alive); also the baseline of the load benchmark."""
    return {"status": "ok"}


@site_router.get("/readyz", tags=["health"], responses={503: {"description": "Not ready"}})
def readyz(request: Request, db: SessionDep) -> JSONResponse:
    """Ready for traffic: the database answers, Redis too (if configured), and the code runner
    is warm (or running code is off on purpose) with the questions it computes in place. 503
    with the same detail otherwise, Retry-After while warming up, and "shutting down" once the
    server is told to stop."""
    try:
        db.execute(text("SELECT 1"))
        database = "ok"
    except (SQLAlchemyError, sqlite3.Error) as exc:  # sqlite3's: see handlers.DATABASE_DOWN
        db.rollback()
        database = f"unreachable: {database_problem(exc)}"
    runner: RunnerState = request.app.state.runner_state
    warm_up: asyncio.Task[None] = request.app.state.warm_up
    questions = "ready" if warm_up.done() else "waiting for the code runner"
    if warm_up.done() and (warm_up.cancelled() or warm_up.exception()):
        questions = "failed; see the server's log"
    warming = runner.state == "warming" or (runner.settled and not warm_up.done())
    ready = database == "ok" and runner.settled and questions == "ready"
    body: dict[str, Any] = {"database": database}
    # Redis (when configured): its last PING, checked in the background (app.core.health).
    if (redis := request.app.state.redis_health) is not None:
        body["redis"] = redis.status()
        ready = ready and redis.ok
    status = "ready" if ready else "warming" if warming else "unavailable"
    if request.app.state.draining.is_set():  # told to stop: no new traffic (app.core.shutdown)
        ready, warming, status = False, False, "shutting down"
    body = {"status": status, **body, "runner": runner.as_dict(), "questions": questions}
    headers = {"Retry-After": str(WARMING_RETRY_SECONDS)} if warming else {}
    return JSONResponse(body, status_code=200 if ready else 503, headers=headers)


@cache
def _pygments_css() -> str:
    return pygments_css()


@site_router.get("/assets/code.css", include_in_schema=False, name="pygments_css")
def code_css() -> Response:
    """Syntax-highlighting styles, generated from Pygments so they match its markup."""
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(_pygments_css(), media_type="text/css", headers=headers)


def include_all(app: FastAPI) -> None:
    access: dict[tuple[str, str], Access] = {}
    scopes: dict[tuple[str, str], str] = {}  # the API token scope each operation needs
    for router, kind, statuses in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=error_responses(*statuses))
        for route in router.routes:
            scope = _token_scope(route, kind)
            for method in getattr(route, "methods", None) or ():
                access[method, API_PREFIX + getattr(route, "path", "")] = kind
                if scope:
                    scopes[method, API_PREFIX + getattr(route, "path", "")] = scope
    for router in [*PAGE_ROUTERS, site_router, docs.router]:
        app.include_router(router)
    openapi.install(
        app, prefix=API_PREFIX, access=access, scopes=scopes, token_scopes=describe_scopes()
    )


def _token_scope(route: BaseRoute, kind: Access) -> str | None:
    """The scope an API token needs here: the course access check's (found among the
    route's dependencies, however deep), `practice` on a learner route, else none."""
    dependant = getattr(route, "dependant", None)
    check = _course_check(dependant) if dependant else None
    if check is not None:
        return scope_of(check.permission)
    return PRACTICE if kind == "learner" else None


def _course_check(dependant: Dependant) -> CourseAccessCheck | None:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, CourseAccessCheck):
            return dependency.call
        if found := _course_check(dependency):
            return found
    return None
