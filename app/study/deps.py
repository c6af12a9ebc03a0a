"""Request dependencies of the study modes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.study.service import StudyContent


def get_study(request: Request) -> StudyContent:
    """The bugs and worked series, read with the bank and validated at start-up (app.main)."""
    study: StudyContent = request.app.state.study
    return study


StudyDep = Annotated[StudyContent, Depends(get_study)]
