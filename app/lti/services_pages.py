"""LTI services pages: the deep-linking picker (inside the LMS), and a course's LTI page for
its staff (its LMS links, the grades sent, and the roster sync button). The logic is
app.lti.deep_linking, app.lti.passback and app.lti.nrps; the JSON face is services_api."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.core.bounds import PublicId
from app.core.deps import DatabaseDep, SessionDep
from app.core.errors import AppError
from app.core.routing import UnitOfWorkRoute
from app.core.security import content_security_policy
from app.core.templating import render_page
from app.courses.deps import CourseAccess, ResultsViewDep, course_access
from app.learners.deps import CsrfProtected, MaybeAccountDep
from app.lti import deep_linking, nrps, status
from app.lti.platforms import active_origins, url_origin

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
ResultsEditEndedDep = Annotated[
    CourseAccess, Depends(course_access("results:edit", then_close=True))
]


async def picked_items(request: Request) -> list[str]:
    """The posted `item` fields (checkboxes repeat the name)."""
    form = await request.form()
    return [v for v in form.getlist("item") if isinstance(v, str)]


PickedDep = Annotated[list[str], Depends(picked_items)]


def launch_url(request: Request) -> str:
    """Our launch URL, where every content item points (the target rides in `custom`)."""
    return str(request.base_url).rstrip("/") + "/lti/launch"


# --- deep linking ---


@router.get("/lti/deep-link/{launch}", name="deep_link_page")
def deep_link_page(
    request: Request, launch: PublicId, db: SessionDep, account: MaybeAccountDep
) -> Response:
    picker = deep_linking.open_request(db, launch, account)
    return _picker_page(request, picker)


def _picker_page(
    request: Request,
    picker: deep_linking.Picker,
    problem: str | None = None,
    chosen: list[str] | None = None,
) -> Response:
    context = {
        "picker": picker,
        "launch": picker.request.id,
        "problem": problem,
        "chosen": set(chosen or []),
    }
    return render_page(request, "lti/deep_link.html", context, status_code=422 if problem else 200)


@router.post("/lti/deep-link/{launch}", name="deep_link_respond", dependencies=[CsrfProtected])
def deep_link_respond(
    request: Request,
    launch: PublicId,
    db: SessionDep,
    account: MaybeAccountDep,
    items: PickedDep,
) -> Response:
    """The signed response, in a form that posts itself to the LMS (static/js)."""
    try:
        token, return_url = deep_linking.respond(db, launch, account, items, launch_url(request))
    except AppError as error:
        if error.status != 400 or error.field != "item":
            raise
        picker = deep_linking.open_request(db, launch, account)
        return _picker_page(request, picker, error.message, items)
    context = {"return_url": return_url, "jwt": token, "count": len(items)}
    headers = {"content-security-policy": _posting_to(request, db, return_url)}
    return render_page(request, "lti/deep_link_return.html", context, headers=headers)


def _posting_to(request: Request, db: Session, return_url: str) -> str:
    """This page's own CSP: the site's, but its form may post to the LMS's return URL (the
    site's `form-action 'self'` would stop it in the browser), and the LMS may frame it."""
    origin = url_origin(return_url)
    if origin is None:
        raise AppError("the LMS's deep_link_return_url is not an http(s) URL")
    ancestors = (*request.app.state.settings.frame_ancestors, *active_origins(db))
    policy = content_security_policy(dict.fromkeys(ancestors))
    return policy.replace("form-action 'self'", f"form-action 'self' {origin}")


# --- a course's LTI page ---


def _course_page(
    request: Request, db: Session, access: CourseAccess, synced: nrps.RosterCounts | None = None
) -> Response:
    context = {
        "course": access.course,
        "can": access.permissions,
        "links": status.course_links(db, access.course.id),
        "scores": status.course_scores(db, access.course.id),
        "synced": synced,
    }
    return render_page(request, "lti/course_services.html", context)


@router.get("/courses/{slug}/lti", name="course_lti_page")
def course_lti_page(request: Request, db: SessionDep, access: ResultsViewDep) -> Response:
    return _course_page(request, db, access)


@router.post(
    "/courses/{slug}/lti/roster-sync", name="roster_sync_form", dependencies=[CsrfProtected]
)
async def roster_sync_form(
    request: Request, database: DatabaseDep, access: ResultsEditEndedDep
) -> Response:
    """Sync now, then the page again with what the sync did (the HTTP is awaited outside
    any transaction)."""
    counts = await nrps.sync_course(database, access.course.id)
    return await database.run(_course_after_sync, request, access, counts)


def _course_after_sync(
    db: Session, request: Request, access: CourseAccess, counts: nrps.RosterCounts
) -> Response:
    return _course_page(request, db, access, counts)
