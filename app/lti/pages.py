"""The tool's LTI 1.3 endpoints: our public keys, the OIDC login, the launch.

The login and the launch are cross-site requests from the LMS (its frame, or a form post
from it): they carry no CSRF token of ours, and prove themselves instead by the platform's
signature and the state and nonce of the login we issued."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from app.accounts.web import session_lifetime
from app.core.deps import DatabaseDep, SessionDep
from app.core.errors import AppError
from app.core.guides import guide_page
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.identity import ACCOUNT_COOKIE, partitioned_cookie_header
from app.lti import keys as tool_keys
from app.lti.deps import PlatformKeysDep, tool_urls
from app.lti.launch import BrowserCheck, LaunchError, validated_launch
from app.lti.login import COOKIE_PATH, LoginParams, start_login, state_cookie_name
from app.lti.provision import land

log = logging.getLogger("torchquiz.lti")
router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
JWKS_MAX_AGE = 300


@router.get("/lti/guide", name="lms_guide")
def guide(request: Request) -> Response:
    """docs/lms-integration.md: setting up Moodle and Canvas, API tokens, webhooks."""
    return guide_page(request, "lms-integration.md")


@router.get("/lti/jwks.json", name="lti_jwks")
def jwks(db: SessionDep) -> Response:
    """The tool's public keys (every unretired one: two during a rotation)."""
    headers = {"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"}
    return JSONResponse(tool_keys.jwks(db), headers=headers)


@router.api_route("/lti/login", methods=["GET", "POST"], name="lti_login")
async def login(request: Request, database: DatabaseDep) -> Response:
    """OIDC login initiation: remember a state and nonce, send the browser to the platform."""
    given: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        given |= {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        params = LoginParams.model_validate(given)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        return _refused(request, LaunchError(f"the login request lacks or mangles: {fields}"))
    try:
        started = await database.run(start_login, params, tool_urls(request).launch)
    except AppError as exc:
        return _refused(request, exc)
    if started.storage_target:
        context = {"started": started}
        response = render_page(request, "lti/login_storage.html", context)
    else:
        response = RedirectResponse(started.redirect_url, 302)
    response.headers.append("set-cookie", started.cookie)
    response.headers["cache-control"] = "no-store"
    return response


@router.post("/lti/launch", name="lti_launch")
async def launch(request: Request, database: DatabaseDep, keys: PlatformKeysDep) -> Response:
    """The platform posts the id_token here (form_post): validate, sign in, land."""
    form = await request.form()
    id_token, state = _field(form.get("id_token")), _field(form.get("state"))
    storage_state = form.get("storage_state")
    if not _from_our_page(request):
        # Only our browser-check page re-posts the state read from the platform's storage;
        # from anywhere else it would let whoever started a login bind it to this browser.
        storage_state = None
    try:
        validated = await validated_launch(
            database,
            keys,
            id_token=id_token,
            state=state,
            cookies=request.cookies,
            storage_state=storage_state if isinstance(storage_state, str) else None,
        )
        landing = await database.run(land, validated, session_lifetime(request))
    except BrowserCheck as check:
        return _browser_check(request, check, id_token, state)
    except AppError as exc:
        return _refused(request, exc)
    log.info(
        "LTI launch: user %d from %s to %s",
        landing.user_id,
        validated.platform.issuer,
        landing.location,
    )
    response = RedirectResponse(landing.location, 303)
    tokens = request.app.state.tokens
    account = tokens.issue_account(landing.session_token, landing.learner_public_id)
    lifetime = int(session_lifetime(request).total_seconds())
    # SameSite=None and Partitioned: inside the LMS's frame a Lax cookie never comes back.
    response.headers.append(
        "set-cookie", partitioned_cookie_header(ACCOUNT_COOKIE, account, lifetime)
    )
    spent = partitioned_cookie_header(state_cookie_name(state), "", 0, path=COOKIE_PATH)
    response.headers.append("set-cookie", spent)
    response.headers["cache-control"] = "no-store"
    return response


def _from_our_page(request: Request) -> bool:
    """The POST came from one of our pages: the browser says so (Sec-Fetch-Site), or its
    Origin is ours."""
    if request.headers.get("sec-fetch-site") == "same-origin":
        return True
    ours = f"{request.url.scheme}://{request.url.netloc}"
    return request.headers.get("origin") == ours


def _field(value: object) -> str:
    return value if isinstance(value, str) else ""


def _refused(request: Request, exc: AppError) -> Response:
    log.warning("LTI refused (%s %s): %s", request.method, request.url.path, exc.message)
    context = {"status": exc.status, "message": exc.message}
    return render_page(request, "lti/error.html", context, status_code=exc.status)


def _browser_check(request: Request, check: BrowserCheck, id_token: str, state: str) -> Response:
    """No state cookie came back. With the platform's storage, this page asks it for the
    state and posts the launch again; without, it offers a new window (where cookies work)."""
    storage = check.storage_target is not None
    if not storage:
        log.warning("LTI launch without its state cookie: offering a new window")
    context = {
        "storage_target": check.storage_target,
        "login_params": check.login_params,
        "id_token": id_token,
        "state": state,
        "platform_origin": check.platform_origin,
    }
    status = 200 if storage else 400
    response = render_page(request, "lti/browser_check.html", context, status_code=status)
    response.headers["cache-control"] = "no-store"
    return response
