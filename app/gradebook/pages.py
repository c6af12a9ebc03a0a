"""Gradebook pages: results per assignment, one attempt, overrides, regrade, audit log."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.routing import UnitOfWorkRoute

router = APIRouter(tags=["gradebook"], route_class=UnitOfWorkRoute)
