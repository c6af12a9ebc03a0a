"""Who may use a course route: every one asks `course_access(permission)` (or `SignedInDep`
for the routes outside any one course), and no route checks roles by hand.

A refusal ends the request's transaction here: the route, which would end it, never runs, and
a session left open would hold its connection (and SQLite's write lock) until collected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from app.core.bounds import Slug
from app.core.deps import SessionDep
from app.core.errors import AppError, ForbiddenError, UnauthorizedError
from app.courses.models import Course
from app.courses.permissions import Permission, Roles, allows, describe, granted
from app.courses.service import find_course, roles_in
from app.learners.deps import MaybeAccountDep
from app.learners.sessions import Account


@dataclass(frozen=True)
class CourseAccess:
    """The course a route is about, who asks, and their roles in it."""

    course: Course
    account: Account
    roles: Roles

    def can(self, permission: Permission) -> bool:
        return allows(self.roles, self.account, permission)

    @property
    def permissions(self) -> frozenset[Permission]:
        return granted(self.roles, self.account)


def _refused(db: Session, error: AppError) -> AppError:
    db.close()
    return error


def _signed_in(db: Session, account: Account | None) -> Account:
    if account is None:
        raise _refused(db, UnauthorizedError("sign in first: this needs an account"))
    return account


# The API token scope (app.tokens.scopes) each permission asks of a token; a browser's
# session (scopes None) holds them all.
SCOPE_OF: dict[str, str] = {
    "course:view": "content:read",
    "content:view": "content:read",
    "content:edit": "content:write",
    "course:manage": "courses:manage",
    "results:view": "results:read",
    "results:edit": "results:write",
}


def scope_of(permission: str) -> str:
    """The scope a permission asks of a token; a permission this table does not know (a
    feature's own, such as learner management) asks `learners:write`."""
    return SCOPE_OF.get(permission, "learners:write")


def token_refusal(db: Session, account: Account, permission: str, course: Course) -> None:
    """403 for an API token without the permission's scope, or a service token of another
    course; nothing for a browser's session."""
    if account.scopes is None:
        return
    needed = scope_of(permission)
    if needed not in account.scopes:
        raise _refused(db, ForbiddenError(f"this API token lacks the scope {needed}"))
    if account.token_course_id is not None and account.token_course_id != course.id:
        raise _refused(db, ForbiddenError("this service token is for another course"))


class CourseAccessCheck:
    """The dependency `course_access` makes; `permission` tells tests what it asks for."""

    def __init__(self, permission: Permission, *, then_close: bool = False) -> None:
        self.permission = permission
        self.then_close = then_close

    def __call__(self, slug: Slug, db: SessionDep, account: MaybeAccountDep) -> CourseAccess:
        # Anonymous first: whoever is not signed in learns nothing, not even which courses exist.
        signed_in = _signed_in(db, account)
        try:
            course = find_course(db, slug)
        except AppError as error:
            raise _refused(db, error) from None
        token_refusal(db, signed_in, self.permission, course)
        roles = roles_in(db, course.id, signed_in.user_id, admin=signed_in.is_admin)
        if not allows(roles, signed_in, self.permission):
            needed = describe(self.permission)
            raise _refused(db, ForbiddenError(f"this needs the permission {needed}"))
        if self.then_close:
            db.close()
        return CourseAccess(course, signed_in, roles)


def course_access(permission: Permission, *, then_close: bool = False) -> CourseAccessCheck:
    """A dependency: the course of the path's {slug}, if the account may do `permission`
    there. 401 when anonymous, 404 for an unknown course, 403 naming what is needed.

    `then_close` for an async route, which awaits the runner: the check's session is closed
    once it has answered (app.core.routing ends only a def route's transaction; one left open
    would hold SQLite's write lock through the whole wait)."""
    return CourseAccessCheck(permission, then_close=then_close)


def signed_in(db: SessionDep, account: MaybeAccountDep) -> Account:
    """Any signed-in account (to create a course, join one, accept an invitation); not a
    service token, which acts within its own course only."""
    found = _signed_in(db, account)
    if found.token_course_id is not None:
        raise _refused(db, ForbiddenError("a service token acts within its own course only"))
    return found


SignedInDep = Annotated[Account, Depends(signed_in)]
MemberDep = Annotated[CourseAccess, Depends(course_access("course:view"))]
ContentViewDep = Annotated[CourseAccess, Depends(course_access("content:view"))]
ManageDep = Annotated[CourseAccess, Depends(course_access("course:manage"))]
ResultsViewDep = Annotated[CourseAccess, Depends(course_access("results:view"))]
ResultsEditDep = Annotated[CourseAccess, Depends(course_access("results:edit"))]
