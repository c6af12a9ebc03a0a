"""Courses over the API: the same service functions as the pages, the same access checks
(app.courses.deps), answers as the pydantic models of app.courses.schemas."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.core.bounds import RowId
from app.core.deps import SessionDep
from app.core.routing import UnitOfWorkRoute
from app.courses import service, staff
from app.courses.deps import (
    ContentViewDep,
    ManageDep,
    MemberDep,
    ResultsEditDep,
    ResultsViewDep,
    SignedInDep,
)
from app.courses.schemas import (
    CourseIn,
    CourseList,
    CourseOut,
    CoursePatch,
    InviteIn,
    InviteOut,
    InviteToken,
    Joined,
    JoinIn,
    LearnerOut,
    MemberOut,
    RolesPatch,
    StaffOut,
)

router = APIRouter(prefix="/courses", tags=["courses"], route_class=UnitOfWorkRoute)
NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.get("")
def list_courses(db: SessionDep, account: SignedInDep) -> CourseList:
    """The courses you are on the staff of, and those you learn in."""
    teaching, learning = service.my_courses(db, account.user_id)
    return CourseList(
        teaching=[CourseOut.of(row.course, row.roles, account) for row in teaching],
        learning=[CourseOut.of(row.course, row.roles, account) for row in learning],
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_course(body: CourseIn, db: SessionDep, account: SignedInDep) -> CourseOut:
    """Any signed-in account may; it becomes the course's owner and a learner-data editor."""
    course = service.create_course(db, account.user_id, body.title)
    roles = service.roles_in(db, course.id, account.user_id, admin=account.is_admin)
    return CourseOut.of(course, roles, account)


@router.post("/join")
def join_course(body: JoinIn, db: SessionDep, account: SignedInDep) -> Joined:
    """Enrol as a learner with the course's join code; joining twice is harmless."""
    course = service.course_by_code(db, body.code)
    joined = service.join(db, course, account.user_id)
    roles = service.roles_in(db, course.id, account.user_id, admin=account.is_admin)
    return Joined(course=CourseOut.of(course, roles, account), joined=joined)


@router.post("/invites/{token}")
def accept_invite(token: InviteToken, db: SessionDep, account: SignedInDep) -> CourseOut:
    """Join a course's staff: signed in with the address the invitation was sent to."""
    course = staff.accept(db, token, account.user_id, account.email)
    roles = service.roles_in(db, course.id, account.user_id, admin=account.is_admin)
    return CourseOut.of(course, roles, account)


@router.get("/{slug}")
def get_course(db: SessionDep, access: MemberDep) -> CourseOut:
    # `db`, though unused: the access check reads on it, and app.core.routing ends the
    # transaction only of a session the route itself is given.
    return CourseOut.of(access.course, access.roles, access.account)


@router.patch("/{slug}")
def update_course(
    body: CoursePatch, request: Request, db: SessionDep, access: ManageDep
) -> CourseOut:
    """Rename, archive or restore; set the origins allowed to call its API (CORS). The slug
    stays, so shared links keep working."""
    origins = None if body.allowed_origins is None else list(dict.fromkeys(body.allowed_origins))
    course = service.update_course(
        db, access.course, title=body.title, archived=body.archived, allowed_origins=origins
    )
    if origins is not None:
        request.app.state.origins.changed()  # CORS answers the new list at once here
    return CourseOut.of(course, access.roles, access.account)


@router.post("/{slug}/join-code")
def new_join_code(db: SessionDep, access: ManageDep) -> CourseOut:
    """A new join code: the old code, and links carrying it, stop working."""
    service.regenerate_join_code(db, access.course)
    return CourseOut.of(access.course, access.roles, access.account)


@router.delete("/{slug}/enrolment", status_code=NO_CONTENT)
def leave_course(db: SessionDep, access: MemberDep) -> Response:
    """Leave the course as a learner (staff roles are not touched)."""
    service.leave(db, access.course, access.account.user_id)
    return Response(status_code=NO_CONTENT)


@router.get("/{slug}/staff")
def list_staff(db: SessionDep, access: ContentViewDep) -> StaffOut:
    members = staff.staff(db, access.course)
    invites = staff.pending_invites(db, access.course)
    return StaffOut(
        staff=[MemberOut.of(m) for m in members], invites=[InviteOut.of(i) for i in invites]
    )


@router.post("/{slug}/staff", status_code=status.HTTP_201_CREATED)
def invite_staff(body: InviteIn, request: Request, db: SessionDep, access: ManageDep) -> InviteOut:
    """Invite by email with roles; the link is mailed (or logged when no SMTP is set up)
    and answered here too: only an account with that address can accept it."""
    new = staff.invite(
        db,
        access.course,
        body.email,
        body.content_role,
        body.data_role,
        invited_by=access.account.user_id,
    )
    link = staff.invite_link(str(request.base_url), new.token)
    staff.mail_invite(request.app.state.settings, access.course, new, link, access.account.name)
    return InviteOut.of(new.invite, link)


@router.patch("/{slug}/staff/{user_id}")
def change_roles(user_id: RowId, body: RolesPatch, db: SessionDep, access: ManageDep) -> MemberOut:
    """Change a staff member's roles; the last owner cannot be demoted (409)."""
    row = staff.change_roles(
        db, access.course, user_id, content_role=body.content_role, data_role=body.data_role
    )
    member = next(m for m in staff.staff(db, access.course) if m.user.id == row.user_id)
    return MemberOut.of(member)


@router.delete("/{slug}/staff/{user_id}", status_code=NO_CONTENT)
def remove_staff(user_id: RowId, db: SessionDep, access: ManageDep) -> Response:
    """Remove a staff member; the last owner cannot be removed (409)."""
    staff.remove(db, access.course, user_id)
    return Response(status_code=NO_CONTENT)


@router.get("/{slug}/learners")
def list_learners(db: SessionDep, access: ResultsViewDep) -> list[LearnerOut]:
    return [LearnerOut.of(m) for m in service.learners(db, access.course)]


@router.delete("/{slug}/learners/{user_id}", status_code=NO_CONTENT)
def remove_learner(user_id: RowId, db: SessionDep, access: ResultsEditDep) -> Response:
    service.remove_learner(db, access.course, user_id)
    return Response(status_code=NO_CONTENT)
