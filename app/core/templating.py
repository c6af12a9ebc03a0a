"""The one Jinja2 environment; templates live in the top-level templates/ folder."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from app.core.config import PROJECT_DIR
from app.questions.grading import format_answer

templates = Jinja2Templates(directory=PROJECT_DIR / "templates")
templates.env.globals["difficulty_label"] = {"easy": "Easy", "medium": "Medium", "hard": "Hard"}
templates.env.globals["format_answer"] = format_answer


def render_page(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    """Every page gets the CSRF token for its forms."""
    identity = request.state.identity
    csrf = request.app.state.tokens.csrf_token(identity.public_id)
    return templates.TemplateResponse(
        request, name, {"csrf_token": csrf, **(context or {})}, status_code=status_code
    )
