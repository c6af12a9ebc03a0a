"""Course pages: my courses, a course's home (staff, join code, learners), joining by code or
link, and accepting a staff invitation. Forms post and redirect (303) with a notice; a refused
form is the same page again, the problem in words next to its field, with the error's status.

Who may use each route is its dependency's business (app.courses.deps). A page that needs an
account answers 401 with the error page when nobody is signed in, as the API does; the join
and invitation links are the exception: they tell a visitor to sign in or sign up and come back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.core.bounds import RowId
from app.core.deps import SessionDep
from app.core.errors import AppError
from app.core.forms import field_problems
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.courses import service, staff
from app.courses.deps import (
    CourseAccess,
    ManageDep,
    MemberDep,
    ResultsEditDep,
    SignedInDep,
)
from app.courses.permissions import CONTENT_ROLES, DATA_ROLES
from app.courses.schemas import (
    CourseIn,
    CoursePatch,
    InviteIn,
    InviteToken,
    JoinCode,
    JoinIn,
    RolesPatch,
)
from app.learners.deps import CsrfProtected, MaybeAccountDep
from app.learners.sessions import Account

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

# The account pages (app.accounts.pages); both honour ?next= for a local path.
SIGN_IN_PATH = "/account/sign-in"
SIGN_UP_PATH = "/account/sign-up"
FormText = Annotated[str, Form()]

# ?done= after a redirect: what the page confirms, in a role="status" region.
NOTICES = {
    "created": "Course created. Share the join link or code with your learners.",
    "renamed": "The course is renamed.",
    "archived": "The course is archived: no new learners can join.",
    "restored": "The course is restored: learners can join again.",
    "code": "A new join code is ready: the old code and link no longer work.",
    "roles": "Roles saved.",
    "removed": "Removed from the staff.",
    "learner-removed": "The learner is removed from the course.",
    "joined": "You have joined the course.",
    "already": "You were enrolled in this course already.",
    "accepted": "You are on the course's staff now.",
    "left": "You have left the course.",
    "origins": "The allowed origins are saved.",
}


def _go(request: Request, name: str, done: str, **params: Any) -> RedirectResponse:
    url = request.url_for(name, **params).include_query_params(done=done)
    return RedirectResponse(url, status_code=303)


def _parse(model: type[BaseModel], values: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, field_problems(exc)


def _signing_in(request: Request) -> dict[str, str]:
    """Links to sign in or sign up that come back here."""
    query = urlencode({"next": request.url.path})
    return {"sign_in": f"{SIGN_IN_PATH}?{query}", "sign_up": f"{SIGN_UP_PATH}?{query}"}


# --- my courses ---


def _courses_page(
    request: Request,
    db: Session,
    user_id: int,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    teaching, learning = service.my_courses(db, user_id)
    context = {
        "teaching": teaching,
        "learning": learning,
        "values": values or {"title": ""},
        "problems": problems or {},
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render_page(request, "courses/list.html", context, status_code=status)


@router.get("/courses")
def courses_page(request: Request, db: SessionDep, account: SignedInDep) -> Response:
    return _courses_page(request, db, account.user_id)


@router.post("/courses", dependencies=[CsrfProtected])
def create_course_form(
    request: Request, db: SessionDep, account: SignedInDep, title: FormText = ""
) -> Response:
    form, problems = _parse(CourseIn, {"title": title})
    if form is None:
        values = {"title": title}
        return _courses_page(
            request, db, account.user_id, values=values, problems=problems, status=422
        )
    course = service.create_course(db, account.user_id, form.title)
    return _go(request, "course_page", "created", slug=course.slug)


# --- joining ---


@router.get("/courses/join")
def join_page(request: Request, db: SessionDep, account: MaybeAccountDep) -> Response:
    # `db`, though unused: every course route takes the session (a test holds them to it), so
    # that a read a dependency makes on it is always ended by the route (app.core.routing).
    context = {"account": account, "values": {"code": ""}, "problems": {}, **_signing_in(request)}
    return render_page(request, "courses/join.html", context)


@router.post("/courses/join", dependencies=[CsrfProtected])
def join_form(
    request: Request, db: SessionDep, account: SignedInDep, code: FormText = ""
) -> Response:
    form, problems = _parse(JoinIn, {"code": code})
    status = 422
    if form is not None:
        try:
            course = service.course_by_code(db, form.code)
            joined = service.join(db, course, account.user_id)
            return _go(request, "course_page", "joined" if joined else "already", slug=course.slug)
        except AppError as error:
            problems, status = {"code": error.message}, error.status
    context = {"account": account, "values": {"code": code}, "problems": problems}
    return render_page(request, "courses/join.html", context, status_code=status)


@router.get("/courses/join/{code}")
def join_link_page(
    code: JoinCode, request: Request, db: SessionDep, account: MaybeAccountDep
) -> Response:
    course = service.course_by_code(db, code)
    enrolled = account is not None and service.roles_in(db, course.id, account.user_id).enrolled
    context = {
        "course": course,
        "account": account,
        "enrolled": enrolled,
        "code": code,
        **_signing_in(request),
    }
    return render_page(request, "courses/join_link.html", context)


@router.post("/courses/join/{code}", dependencies=[CsrfProtected])
def join_link_form(
    code: JoinCode, request: Request, db: SessionDep, account: SignedInDep
) -> Response:
    course = service.course_by_code(db, code)
    joined = service.join(db, course, account.user_id)
    return _go(request, "course_page", "joined" if joined else "already", slug=course.slug)


# --- staff invitations ---


def _invite_page(
    request: Request,
    db: Session,
    token: InviteToken,
    account: Account | None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    invite, course = staff.find_invite(db, token)
    wrong_address = account is not None and (account.email or "").lower() != invite.email.lower()
    context = {
        "invite": invite,
        "course": course,
        "account": account,
        "problem": problem,
        "wrong_address": wrong_address,
        **_signing_in(request),
    }
    return render_page(request, "courses/invite.html", context, status_code=status)


@router.get("/courses/invites/{token}")
def invite_page(
    token: InviteToken, request: Request, db: SessionDep, account: MaybeAccountDep
) -> Response:
    return _invite_page(request, db, token, account)


@router.post("/courses/invites/{token}", dependencies=[CsrfProtected])
def accept_invite_form(
    token: InviteToken, request: Request, db: SessionDep, account: SignedInDep
) -> Response:
    try:
        course = staff.accept(db, token, account.user_id, account.email)
    except AppError as error:
        if error.status != 403:
            raise
        return _invite_page(request, db, token, account, error.message, status=403)
    return _go(request, "course_page", "accepted", slug=course.slug)


# --- a course's home ---


def _home(
    request: Request,
    db: Session,
    access: CourseAccess,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    course, can = access.course, access.permissions
    context = {
        "course": course,
        "access": access,
        "can": can,
        "staff": staff.staff(db, course) if "content:view" in can else [],
        "invites": staff.pending_invites(db, course) if "content:view" in can else [],
        "learners": service.learners(db, course) if "results:view" in can else [],
        "join_url": f"{str(request.base_url).rstrip('/')}/courses/join/{course.join_code}",
        "content_roles": CONTENT_ROLES,
        "data_roles": DATA_ROLES,
        "problems": problems or {},
        "values": {
            "title": course.title,
            "email": "",
            "content_role": "viewer",
            "data_role": "none",
            **(values or {}),
        },
        "notice": notice or NOTICES.get(request.query_params.get("done", "")),
    }
    return render_page(request, "courses/home.html", context, status_code=status)


def _refused_home(
    request: Request,
    db: Session,
    access: CourseAccess,
    field: str,
    error: AppError,
    values: dict[str, str] | None = None,
) -> Response:
    db.rollback()  # nothing of the refused change is kept, nor shown
    return _home(
        request, db, access, problems={field: error.message}, values=values, status=error.status
    )


def _attempt(
    request: Request,
    db: Session,
    access: CourseAccess,
    field: str,
    change: Callable[[], Response],
    values: dict[str, str] | None = None,
) -> Response:
    """Make the change, or show the home page again with the refusal next to `field`."""
    try:
        return change()
    except AppError as error:
        return _refused_home(request, db, access, field, error, values)


@router.get("/courses/{slug}")
def course_page(request: Request, db: SessionDep, access: MemberDep) -> Response:
    return _home(request, db, access)


@router.post("/courses/{slug}/origins", dependencies=[CsrfProtected])
def course_origins_form(
    slug: str, request: Request, db: SessionDep, access: ManageDep, allowed_origins: FormText = ""
) -> Response:
    """The origins whose pages may call this course's API (CORS): one a line; empty, none."""
    form, problems = _parse(CoursePatch, {"allowed_origins": allowed_origins.split()})
    if form is None:  # the problem of any one origin, shown beside the box
        problem = {"allowed_origins": next(iter(problems.values()))}
        values = {"allowed_origins": allowed_origins}
        return _home(request, db, access, problems=problem, values=values, status=422)
    service.update_course(db, access.course, allowed_origins=form.allowed_origins)
    request.app.state.origins.changed()  # CORS answers from the new list at once, here
    return _go(request, "course_page", "origins", slug=slug)


@router.post("/courses/{slug}/rename", dependencies=[CsrfProtected])
def rename_form(
    slug: str, request: Request, db: SessionDep, access: ManageDep, title: FormText = ""
) -> Response:
    form, problems = _parse(CourseIn, {"title": title})
    if form is None:
        return _home(request, db, access, problems=problems, values={"title": title}, status=422)
    service.update_course(db, access.course, title=form.title)
    return _go(request, "course_page", "renamed", slug=slug)


@router.post("/courses/{slug}/archive", dependencies=[CsrfProtected])
def archive_form(
    slug: str, request: Request, db: SessionDep, access: ManageDep, archived: FormText = "on"
) -> Response:
    archive = archived == "on"
    service.update_course(db, access.course, archived=archive)
    return _go(request, "course_page", "archived" if archive else "restored", slug=slug)


@router.post("/courses/{slug}/join-code", dependencies=[CsrfProtected])
def join_code_form(slug: str, request: Request, db: SessionDep, access: ManageDep) -> Response:
    service.regenerate_join_code(db, access.course)
    return _go(request, "course_page", "code", slug=slug)


@router.post("/courses/{slug}/staff", dependencies=[CsrfProtected])
def invite_form(
    slug: str,
    request: Request,
    db: SessionDep,
    access: ManageDep,
    email: FormText = "",
    content_role: FormText = "viewer",
    data_role: FormText = "none",
) -> Response:
    values = {"email": email, "content_role": content_role, "data_role": data_role}
    form, problems = _parse(InviteIn, values)
    if form is None:
        return _home(request, db, access, problems=problems, values=values, status=422)

    def send() -> Response:
        new = staff.invite(
            db,
            access.course,
            form.email,
            form.content_role,
            form.data_role,
            invited_by=access.account.user_id,
        )
        link = staff.invite_link(str(request.base_url), new.token)
        settings = request.app.state.settings
        staff.mail_invite(settings, access.course, new, link, access.account.name)
        notice = (
            f"Invitation sent to {form.email}. If the mail does not arrive, send them "
            f"this link (only {form.email} can accept it): {link}"
        )
        return _home(request, db, access, notice=notice)

    return _attempt(request, db, access, "email", send, values)


@router.post("/courses/{slug}/staff/{user_id}", dependencies=[CsrfProtected])
def roles_form(
    slug: str,
    user_id: RowId,
    request: Request,
    db: SessionDep,
    access: ManageDep,
    content_role: FormText = "",
    data_role: FormText = "",
) -> Response:
    form, problems = _parse(RolesPatch, {"content_role": content_role, "data_role": data_role})
    field = f"roles-{user_id}"
    if form is None:
        return _home(
            request, db, access, problems={field: "; ".join(problems.values())}, status=422
        )

    def change() -> Response:
        staff.change_roles(
            db, access.course, user_id, content_role=form.content_role, data_role=form.data_role
        )
        return _go(request, "course_page", "roles", slug=slug)

    return _attempt(request, db, access, field, change)


@router.post("/courses/{slug}/staff/{user_id}/remove", dependencies=[CsrfProtected])
def remove_staff_form(
    slug: str, user_id: RowId, request: Request, db: SessionDep, access: ManageDep
) -> Response:
    def change() -> Response:
        staff.remove(db, access.course, user_id)
        return _go(request, "course_page", "removed", slug=slug)

    return _attempt(request, db, access, f"roles-{user_id}", change)


@router.post("/courses/{slug}/learners/{user_id}/remove", dependencies=[CsrfProtected])
def remove_learner_form(
    slug: str, user_id: RowId, request: Request, db: SessionDep, access: ResultsEditDep
) -> Response:
    def change() -> Response:
        service.remove_learner(db, access.course, user_id)
        return _go(request, "course_page", "learner-removed", slug=slug)

    return _attempt(request, db, access, f"learner-{user_id}", change)


@router.post("/courses/{slug}/leave", dependencies=[CsrfProtected])
def leave_form(request: Request, db: SessionDep, access: MemberDep) -> Response:
    service.leave(db, access.course, access.account.user_id)
    return RedirectResponse(
        request.url_for("courses_page").include_query_params(done="left"), status_code=303
    )
