"""Problem reports over the API: a learner reports, staff reply and set the status."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.routing import UnitOfWorkRoute

router = APIRouter(tags=["reports"], route_class=UnitOfWorkRoute)
