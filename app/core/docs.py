"""The API's interactive docs: Swagger UI served from this package, not a CDN, so /docs works
offline and runs only the code shipped here (static/vendor/swagger-ui, with its version and
licence). ReDoc is off: it loads from a CDN and needs inline styles.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.core.security import content_security_policy

router = APIRouter()


@router.get("/docs", include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    """FastAPI's page starts Swagger UI with an inline script: a nonce lets that one run."""
    app = request.app

    def static(path: str) -> str:
        return str(app.url_path_for("static", path=f"vendor/swagger-ui/{path}"))

    page = get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title}: API",
        swagger_js_url=static("swagger-ui-bundle.js"),
        swagger_css_url=static("swagger-ui.css"),
        swagger_favicon_url=static("favicon-32x32.png"),
        oauth2_redirect_url=None,
        # Off: it would send the document's URL to swagger.io for a badge.
        swagger_ui_parameters={"validatorUrl": None},
    )
    nonce = secrets.token_urlsafe(16)
    html = bytes(page.body).decode()
    html = html.replace("<html>", '<html lang="en">', 1).replace(
        "<script>", f'<script nonce="{nonce}">'
    )
    policy = content_security_policy(app.state.settings.frame_ancestors, script_nonce=nonce)
    headers = {"Content-Security-Policy": policy, "Cache-Control": "no-store"}
    return HTMLResponse(html, headers=headers)
