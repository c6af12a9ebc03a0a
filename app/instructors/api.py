"""Instructor routes for the bank. Until accounts exist they take the admin token."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.bank.verify import verify_questions
from app.core.errors import ForbiddenError, UnauthorizedError
from app.core.routing import UnitOfWorkRoute
from app.questions.deps import CatalogDep
from app.runner.deps import RunnerDep

router = APIRouter(prefix="/admin", tags=["instructors"], route_class=UnitOfWorkRoute)


class Mismatch(BaseModel):
    question: str
    message: str


class Verification(BaseModel):
    checked: int
    agree: bool
    mismatches: list[Mismatch]


def require_admin(request: Request) -> None:
    token = request.app.state.settings.admin_token
    if not token:
        raise ForbiddenError("instructor access is not set up here (TORCHQUIZ_ADMIN_TOKEN)")
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given, f"Bearer {token}"):
        raise UnauthorizedError("instructor routes need the admin token as a bearer token")


@router.post("/verify")
async def verify(request: Request, catalog: CatalogDep, runner: RunnerDep) -> Verification:
    """Run every question's `check` in the sandbox; list each claim torch disagrees with."""
    require_admin(request)
    questions = [(q.slug, q.source) for t in catalog.topics.values() for q in t.questions]
    checked, problems = await verify_questions(questions, runner)
    mismatches = [Mismatch(question=p.path, message=p.message) for p in problems]
    return Verification(checked=checked, agree=not problems, mismatches=mismatches)
