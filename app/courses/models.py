"""Courses, their staff (with a role on each of two axes) and their learners."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import EMAIL_LENGTH, NAME_LENGTH, SLUG_LENGTH
from app.core.db import Base, utcnow
from app.learners.models import TOKEN_HASH_LENGTH

JOIN_CODE_LENGTH = 8


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH), unique=True)
    title: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # Learners join with this code (or the link that carries it); a new code ends the old.
    join_code: Mapped[str] = mapped_column(String(JOIN_CODE_LENGTH), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]
    # Browser origins whose pages may call this course's API (CORS); None or [] for none.
    allowed_origins: Mapped[list[str] | None] = mapped_column(JSON)


class CourseStaff(Base):
    """A staff member's roles in one course, on two axes as PrairieLearn has them: course
    content (viewer, editor, owner) and learner data (none, viewer, editor)."""

    __tablename__ = "course_staff"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    content_role: Mapped[str] = mapped_column(String(10))
    data_role: Mapped[str] = mapped_column(String(10))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrolment(Base):
    __tablename__ = "enrolments"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffInvite(Base):
    """An invitation by email to join a course's staff with given roles; one-time, 14 days."""

    __tablename__ = "staff_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    content_role: Mapped[str] = mapped_column(String(10))
    data_role: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
