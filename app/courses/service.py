"""Courses: creating and managing them, learners joining by code, and staff invited by email.

Services flush, never commit: the route's transaction ends the work (app.core.routing). Who
may call each function is the route's business (app.courses.deps.course_access); here are the
rules that hold whoever calls: the last owner stays, an archived course takes no learners, an
invitation is accepted once, by the account with its address, before it expires.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.core.db import add_once, utcnow
from app.core.errors import ConflictError, NotFoundError
from app.courses.models import JOIN_CODE_LENGTH, Course, CourseStaff, Enrolment
from app.courses.permissions import ContentRole, DataRole, Roles
from app.learners.models import User

# No 0/O, 1/I/L: a code read aloud or copied from a projector is typed right.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_LIFETIME = timedelta(days=14)
SLUG_MAX = 60  # room for "-99" and still well inside SLUG_LENGTH
# Paths beside /courses/{slug}: a course may not take their names.
RESERVED_SLUGS = frozenset({"join", "invites", "new"})
_ATTEMPTS = 20  # new slug or code tries when another course holds one (unlikely past 2)


@dataclass(frozen=True)
class CourseRow:
    """A course as someone sees it in a list: with their own roles in it."""

    course: Course
    roles: Roles


@dataclass(frozen=True)
class Member:
    """A staff member or a learner, with the person's name and address."""

    user: User
    content_role: ContentRole | None = None
    data_role: DataRole | None = None
    joined_at: datetime | None = None


# --- courses ---


def slug_for(title: str) -> str:
    """A URL-safe slug from a title: ASCII letters and digits, hyphens between words."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:SLUG_MAX].strip("-")
    return slug or "course"


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalise_code(code: str) -> str:
    """As people type a code: any case, with spaces or hyphens between groups."""
    return re.sub(r"[\s-]+", "", code).upper()


def create_course(db: Session, user_id: int, title: str) -> Course:
    """A new course; its creator becomes its owner and a data editor."""
    base = slug_for(title)
    for attempt in range(_ATTEMPTS):
        slug = _free_slug(db, base, attempt)
        course = Course(slug=slug, title=title, join_code=new_join_code(), created_by=user_id)
        # Another course took the slug or the code between the look and the insert.
        if add_once(db, course):
            db.add(
                CourseStaff(
                    course_id=course.id, user_id=user_id, content_role="owner", data_role="editor"
                )
            )
            db.flush()
            return course
    raise ConflictError("could not find a free address for this course; try another title")


def _free_slug(db: Session, base: str, attempt: int) -> str:
    taken = set(db.scalars(select(Course.slug).where(Course.slug.startswith(base))))
    taken |= RESERVED_SLUGS
    number = 1 + attempt
    slug = base if number == 1 else f"{base}-{number}"
    while slug in taken:
        number += 1
        slug = f"{base}-{number}"
    return slug


def find_course(db: Session, slug: str) -> Course:
    course = db.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise NotFoundError(f"no course has the address “{slug}”", field="slug")
    return course


def roles_in(db: Session, course_id: int, user_id: int, *, admin: bool = False) -> Roles:
    staff = db.get(CourseStaff, (course_id, user_id))
    enrolled = db.get(Enrolment, (course_id, user_id)) is not None
    if staff is None:
        return Roles(enrolled=enrolled, admin=admin)
    roles = Roles.of_staff(staff.content_role, staff.data_role, enrolled=enrolled)
    return replace(roles, admin=admin)


def my_courses(db: Session, user_id: int) -> tuple[list[CourseRow], list[CourseRow]]:
    """(courses I am staff of, courses I learn in), newest first."""
    staff_rows = db.execute(
        select(Course, CourseStaff)
        .join(CourseStaff, CourseStaff.course_id == Course.id)
        .where(CourseStaff.user_id == user_id)
        .order_by(Course.created_at.desc(), Course.id.desc())
    ).all()
    learning = db.scalars(
        select(Course)
        .join(Enrolment, Enrolment.course_id == Course.id)
        .where(Enrolment.user_id == user_id)
        .order_by(Enrolment.joined_at.desc(), Course.id.desc())
    ).all()
    enrolled_ids = {c.id for c in learning}
    teaching = [
        CourseRow(c, Roles.of_staff(s.content_role, s.data_role, enrolled=c.id in enrolled_ids))
        for c, s in staff_rows
    ]
    return teaching, [CourseRow(c, Roles(enrolled=True)) for c in learning]


def update_course(
    db: Session,
    course: Course,
    *,
    title: str | None = None,
    archived: bool | None = None,
    allowed_origins: list[str] | None = None,
) -> Course:
    """Rename, archive or restore, and set the origins allowed to call the course's API
    (CORS; [] for none). The slug stays: links already shared keep working."""
    if title is not None:
        course.title = title
    if allowed_origins is not None:
        course.allowed_origins = allowed_origins
    if archived is not None and archived != (course.archived_at is not None):
        course.archived_at = utcnow() if archived else None
    db.flush()
    return course


def regenerate_join_code(db: Session, course: Course) -> str:
    """A new code; the old code and links that carry it stop working."""
    for _ in range(_ATTEMPTS):
        code = new_join_code()
        if db.scalar(select(Course.id).where(Course.join_code == code)) is None:
            course.join_code = code
            db.flush()
            return code
    raise ConflictError("could not draw a free join code; try again")


# --- learners ---


def course_by_code(db: Session, code: str) -> Course:
    course = db.scalar(select(Course).where(Course.join_code == normalise_code(code)))
    if course is None:
        raise NotFoundError(
            "no course has this join code: check it with your instructor (codes are 8 "
            "letters and digits, and a course's code changes when it is renewed)",
            field="code",
        )
    return course


def join(db: Session, course: Course, user_id: int) -> bool:
    """Enrol; True if this call enrolled (joining twice is harmless)."""
    if course.archived_at is not None:
        raise ConflictError(
            f"the course “{course.title}” is archived and takes no new learners", field="code"
        )
    if db.get(Enrolment, (course.id, user_id)) is not None:
        return False
    return add_once(db, Enrolment(course_id=course.id, user_id=user_id))


def leave(db: Session, course: Course, user_id: int) -> None:
    db.execute(
        delete(Enrolment).where(Enrolment.course_id == course.id, Enrolment.user_id == user_id)
    )


def learners(db: Session, course: Course) -> list[Member]:
    rows = db.execute(
        select(User, Enrolment.joined_at)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.course_id == course.id)
        .order_by(func.lower(User.email))
    ).all()
    return [Member(user, joined_at=joined) for user, joined in rows]


def remove_learner(db: Session, course: Course, user_id: int) -> None:
    enrolment = db.get(Enrolment, (course.id, user_id))
    if enrolment is None:
        raise NotFoundError("this person is not a learner of the course", field="user_id")
    db.delete(enrolment)
    db.flush()
