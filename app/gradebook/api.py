"""The gradebook over the API: results, attempts, overrides, regrades, the audit log."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.routing import UnitOfWorkRoute

router = APIRouter(tags=["gradebook"], route_class=UnitOfWorkRoute)
