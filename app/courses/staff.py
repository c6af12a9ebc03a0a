"""A course's staff: invitations by email, accepting them, roles changed, staff removed.

An invitation is a one-time token (256 random bits, stored as its SHA-256) bound to an email
address: only an account with that address (compared without case) may accept it, so the link
may be shown to the inviter as well as mailed. A course always keeps an owner: the last one
can be neither demoted nor removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import as_utc, utcnow
from app.core.errors import ConflictError, ForbiddenError, NotFoundError
from app.core.mail import send_mail
from app.courses.models import Course, CourseStaff, StaffInvite
from app.courses.permissions import ContentRole, DataRole
from app.courses.service import INVITE_LIFETIME, Member
from app.learners.models import User
from app.learners.sessions import new_token, token_hash


@dataclass(frozen=True)
class NewInvite:
    invite: StaffInvite
    token: str  # for the link; only its hash is stored


def staff(db: Session, course: Course) -> list[Member]:
    rows = db.execute(
        select(User, CourseStaff)
        .join(CourseStaff, CourseStaff.user_id == User.id)
        .where(CourseStaff.course_id == course.id)
        .order_by(func.lower(User.email))
    ).all()
    return [
        Member(user, s.content_role, s.data_role, joined_at=s.added_at)  # type: ignore[arg-type]
        for user, s in rows
    ]


def pending_invites(db: Session, course: Course) -> list[StaffInvite]:
    return list(
        db.scalars(
            select(StaffInvite)
            .where(
                StaffInvite.course_id == course.id,
                StaffInvite.accepted_at.is_(None),
                StaffInvite.expires_at > utcnow(),
            )
            .order_by(StaffInvite.created_at.desc(), StaffInvite.id.desc())
        )
    )


def invite(
    db: Session,
    course: Course,
    email: str,
    content_role: ContentRole,
    data_role: DataRole,
    *,
    invited_by: int,
) -> NewInvite:
    """A new invitation; ConflictError when the address's account is on the staff already."""
    address = email.strip()
    member = db.scalar(
        select(CourseStaff.user_id)
        .join(User, User.id == CourseStaff.user_id)
        .where(CourseStaff.course_id == course.id, func.lower(User.email) == address.lower())
    )
    if member is not None:
        raise ConflictError(f"{address} is on this course's staff already", field="email")
    token, hashed = new_token()
    row = StaffInvite(
        course_id=course.id,
        email=address,
        content_role=content_role,
        data_role=data_role,
        token_hash=hashed,
        invited_by=invited_by,
        expires_at=utcnow() + INVITE_LIFETIME,
    )
    db.add(row)
    db.flush()
    return NewInvite(row, token)


def find_invite(db: Session, token: str) -> tuple[StaffInvite, Course]:
    """A live invitation: NotFoundError for a wrong token, ConflictError for a used or
    expired one (each says so: the person asks for a new one either way)."""
    row = db.scalar(select(StaffInvite).where(StaffInvite.token_hash == token_hash(token)))
    if row is None:
        raise NotFoundError(
            "this invitation link is wrong: check that it was copied whole", field="token"
        )
    if row.accepted_at is not None:
        raise ConflictError("this invitation has been accepted already", field="token")
    if as_utc(row.expires_at) <= utcnow():
        raise ConflictError(
            "this invitation has expired: ask the course's owner for a new one", field="token"
        )
    course = db.get(Course, row.course_id)
    assert course is not None  # the invitation is deleted with its course
    return row, course


def accept(db: Session, token: str, user_id: int, email: str | None) -> Course:
    """Join the staff with the invitation's roles, as the account it was sent to."""
    row, course = find_invite(db, token)
    if email is None or row.email.strip().lower() != email.strip().lower():
        raise ForbiddenError(
            f"this invitation was sent to another address; sign in as {row.email} to accept it",
            field="token",
        )
    if db.get(CourseStaff, (course.id, user_id)) is not None:
        raise ConflictError(f"you are on the staff of “{course.title}” already", field="token")
    db.add(
        CourseStaff(
            course_id=course.id,
            user_id=user_id,
            content_role=row.content_role,
            data_role=row.data_role,
        )
    )
    row.accepted_at = utcnow()
    db.flush()
    return course


def _member(db: Session, course: Course, user_id: int) -> CourseStaff:
    row = db.get(CourseStaff, (course.id, user_id))
    if row is None:
        raise NotFoundError("this person is not on the course's staff", field="user_id")
    return row


def _keep_an_owner(db: Session, course: Course, row: CourseStaff, doing: str) -> None:
    if row.content_role != "owner":
        return
    # Two owners demoting each other at once: the course's row lock puts one after the other.
    db.execute(select(Course.id).where(Course.id == course.id).with_for_update())
    owners = db.scalar(
        select(func.count()).where(
            CourseStaff.course_id == course.id, CourseStaff.content_role == "owner"
        )
    )
    if owners == 1:
        raise ConflictError(
            f"cannot {doing} the course's last owner: make someone else an owner first",
            field="content_role",
        )


def change_roles(
    db: Session,
    course: Course,
    user_id: int,
    *,
    content_role: ContentRole | None = None,
    data_role: DataRole | None = None,
) -> CourseStaff:
    row = _member(db, course, user_id)
    if content_role is not None and content_role != "owner":
        _keep_an_owner(db, course, row, "demote")
    if content_role is not None:
        row.content_role = content_role
    if data_role is not None:
        row.data_role = data_role
    db.flush()
    return row


def remove(db: Session, course: Course, user_id: int) -> None:
    row = _member(db, course, user_id)
    _keep_an_owner(db, course, row, "remove")
    db.delete(row)
    db.flush()


def invite_link(base_url: str, token: str) -> str:
    """The link in the mail: the site's own address (the Host the inviter used, which the
    trusted-hosts check has allowed) and the invitation's page."""
    return f"{base_url.rstrip('/')}/courses/invites/{token}"


def mail_invite(settings: Settings, course: Course, new: NewInvite, link: str, by: str) -> None:
    roles = f"course content: {new.invite.content_role}; learner data: {new.invite.data_role}"
    body = (
        f"{by} invites you to the staff of the course “{course.title}” on torchquiz\n"
        f"({roles}).\n\n"
        f"Accept within {INVITE_LIFETIME.days} days, signed in with this address "
        f"({new.invite.email}), or sign up with it first:\n{link}\n"
    )
    send_mail(settings, new.invite.email, f"Join the staff of {course.title}", body)
