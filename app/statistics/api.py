"""Item statistics over the API."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.routing import UnitOfWorkRoute

router = APIRouter(tags=["statistics"], route_class=UnitOfWorkRoute)
