"""Problem report pages: the form beside a question, a learner's reports, staff threads."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.routing import UnitOfWorkRoute

router = APIRouter(tags=["reports"], route_class=UnitOfWorkRoute)
