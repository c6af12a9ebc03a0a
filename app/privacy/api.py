"""A learner's own data over the API: download it all, or delete it (and their account)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from app.core.deps import SessionDep
from app.core.errors import AppError
from app.core.routing import UnitOfWorkRoute
from app.privacy.service import export
from app.privacy.web import delete_own, forget_browser, person_of

router = APIRouter(prefix="/me", tags=["learners"], route_class=UnitOfWorkRoute)


class NotConfirmedError(AppError):
    status = 422
    code = "not_confirmed"


class Deleted(BaseModel):
    deleted: dict[str, int]  # rows removed, by table


@router.get("/export", response_model=dict[str, Any])
def export_me(request: Request, db: SessionDep) -> Response:
    """Everything the site holds about you (your learner, and your account if signed in):
    every answer, attempt, lab run, report, enrolment and grade, as one JSON document."""
    document = export(db, person_of(request, db))
    headers = {
        "Cache-Control": "no-store",
        "Content-Disposition": 'attachment; filename="torchquiz-my-data.json"',
    }
    body = json.dumps(document, ensure_ascii=False)
    return Response(body, media_type="application/json", headers=headers)


@router.delete("")
def delete_me(
    request: Request, response: Response, db: SessionDep, confirm: bool = False
) -> Deleted:
    """Delete everything about you, and your account if signed in, for good; this browser is
    signed out. Give `confirm=true`. Other people's records that name you (a course's audit
    log, a problem report you filed) keep their row without you."""
    if not confirm:
        raise NotConfirmedError(
            "deleting your data cannot be undone: give confirm=true", field="confirm"
        )
    counts = delete_own(request, db)
    forget_browser(response)
    return Deleted(deleted=counts)
