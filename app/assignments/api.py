"""Assignments over the API: staff set them in a course; learners open and attempt them."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.routing import UnitOfWorkRoute

router = APIRouter(tags=["assignments"], route_class=UnitOfWorkRoute)
