"""Site administrators' routes for the shipped bank."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.bank.verify import verify_questions
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import AdminDep
from app.questions.deps import CatalogDep
from app.runner.deps import RunnerDep

router = APIRouter(prefix="/admin", tags=["instructors"], route_class=UnitOfWorkRoute)


class Mismatch(BaseModel):
    question: str
    field: str = Field(description="Where the claim is made, with the seed of a variant.")
    message: str


class Verification(BaseModel):
    checked: int
    agree: bool
    mismatches: list[Mismatch]


@router.post("/verify")
async def verify(admin: AdminDep, catalog: CatalogDep, runner: RunnerDep) -> Verification:
    """Run every question's `check` in the sandbox; list each claim torch disagrees with.
    For site administrators (`torchquiz users create-admin`)."""
    questions = [(q.slug, q.source) for t in catalog.topics.values() for q in t.questions]
    checked, problems = await verify_questions(questions, runner)
    mismatches = [Mismatch(question=p.path, field=p.field, message=p.message) for p in problems]
    return Verification(checked=checked, agree=not problems, mismatches=mismatches)
