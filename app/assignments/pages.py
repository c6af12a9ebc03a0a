"""Assignment pages: the staff's list and form, a learner's start page."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.routing import UnitOfWorkRoute

router = APIRouter(tags=["assignments"], route_class=UnitOfWorkRoute)
