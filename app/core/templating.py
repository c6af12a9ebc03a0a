"""The one Jinja2 environment; templates live in the top-level templates/ folder."""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.responses import Response

from app.core.config import PROJECT_DIR
from app.core.markdown import code_block

templates = Jinja2Templates(directory=PROJECT_DIR / "templates")
templates.env.globals["difficulty_label"] = {"easy": "Easy", "medium": "Medium", "hard": "Hard"}
templates.env.filters["code_block"] = code_block


def points(value: float) -> str:
    """A score as learners read it: 1, "1/2", "2/3" (partial credit is a share of a question's
    tests or options, so a small fraction), else at most two decimals, never "0.666667"."""
    share = Fraction(value).limit_denominator(12)
    if abs(float(share) - value) < 1e-9:
        return str(share.numerator) if share.denominator == 1 else f"{share}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


templates.env.filters["points"] = points


@cache
def _path_formats(app: FastAPI) -> dict[str, str]:
    """Route name -> path with {placeholders}, for every route of the included routers."""
    formats: dict[str, str] = {}
    for route in app.router.routes:
        for context in getattr(route, "effective_route_contexts", list)():
            formats.setdefault(context.name, context.path_format)
    return formats


@pass_context
def url_for(context: dict[str, Any], name: str, /, **params: Any) -> str:
    """Like Starlette's url_for, as a path; a page links a dozen times and FastAPI's own
    lookup walks every nested route each time (a third of a page's rendering time)."""
    request: Request = context["request"]
    path_format = _path_formats(request.app).get(name)
    if path_format is None:
        return str(request.url_for(name, **params))
    return path_format.format(**{k: quote(str(v), safe="") for k, v in params.items()})


templates.env.globals["url_for"] = url_for


def render_page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Every page gets the CSRF token for its forms. `headers`: an error's own (Retry-After)."""
    identity = request.state.identity
    csrf = request.app.state.tokens.csrf_token(identity.public_id)
    return templates.TemplateResponse(
        request,
        name,
        {"csrf_token": csrf, **(context or {})},
        status_code=status_code,
        headers=headers,
    )
