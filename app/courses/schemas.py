"""What the course API takes and answers; the pages parse their forms with the same models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.core.bounds import Email, Name
from app.core.cors import parse_origin
from app.courses.models import Course, StaffInvite
from app.courses.permissions import ContentRole, DataRole, Permission, Roles, granted
from app.courses.service import Member
from app.learners.sessions import Account

# A code as people type it: 8 letters and digits, perhaps with spaces or hyphens between.
JoinCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=20, pattern=r"^[A-Za-z0-9 -]+$"
    ),
]

# An invitation's token as app.learners.sessions.new_token makes it (URL-safe base64).
InviteToken = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
]


# An origin a browser sends (https://lms.example.edu), or "*": app.core.cors.parse_origin.
Origin = Annotated[str, StringConstraints(max_length=200), AfterValidator(parse_origin)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CourseIn(Strict):
    title: Name


class CoursePatch(Strict):
    title: Name | None = None
    archived: bool | None = Field(None, description="True archives: no new learners join.")
    allowed_origins: list[Origin] | None = Field(
        None,
        max_length=20,
        description='Browser origins whose pages may call this course\'s API (CORS); "*" for '
        "any, [] for none.",
    )


class JoinIn(Strict):
    code: JoinCode


class InviteIn(Strict):
    email: Email
    content_role: ContentRole = "viewer"
    data_role: DataRole = "none"


class RolesPatch(Strict):
    content_role: ContentRole | None = None
    data_role: DataRole | None = None


class MyRoles(BaseModel):
    content_role: ContentRole | None = Field(description="None: not on the staff.")
    data_role: DataRole | None
    enrolled: bool
    site_admin: bool


class CourseOut(BaseModel):
    slug: str
    title: str
    archived: bool
    created_at: datetime
    join_code: str | None = Field(description="Shown to staff only.")
    join_path: str | None = Field(description="The join link's path; staff only.")
    roles: MyRoles
    permissions: list[Permission] = Field(description="What you may do in this course.")
    allowed_origins: list[str] | None = Field(
        None, description="Origins allowed to call this course's API (CORS); staff only."
    )

    @classmethod
    def of(cls, course: Course, roles: Roles, account: Account) -> CourseOut:
        permissions = granted(roles, account)
        staff_view = "content:view" in permissions
        return cls(
            slug=course.slug,
            title=course.title,
            archived=course.archived_at is not None,
            created_at=course.created_at,
            join_code=course.join_code if staff_view else None,
            join_path=f"/courses/join/{course.join_code}" if staff_view else None,
            roles=MyRoles(
                content_role=roles.content,
                data_role=roles.data,
                enrolled=roles.enrolled,
                site_admin=account.is_admin,
            ),
            permissions=sorted(permissions),
            allowed_origins=(course.allowed_origins or []) if staff_view else None,
        )


class CourseList(BaseModel):
    teaching: list[CourseOut]
    learning: list[CourseOut]


class Joined(BaseModel):
    course: CourseOut
    joined: bool = Field(description="False when you were enrolled already.")


class MemberOut(BaseModel):
    user_id: int
    email: str | None
    display_name: str | None
    content_role: ContentRole
    data_role: DataRole
    added_at: datetime | None

    @classmethod
    def of(cls, member: Member) -> MemberOut:
        assert member.content_role is not None and member.data_role is not None
        user = member.user
        return cls(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            content_role=member.content_role,
            data_role=member.data_role,
            added_at=member.joined_at,
        )


class InviteOut(BaseModel):
    id: int
    email: str
    content_role: ContentRole
    data_role: DataRole
    expires_at: datetime
    link: str | None = Field(
        None,
        description="The invitation link, in the answer that made it only (it is mailed too); "
        "only an account with the invited address can accept it.",
    )

    @classmethod
    def of(cls, row: StaffInvite, link: str | None = None) -> InviteOut:
        return cls(
            id=row.id,
            email=row.email,
            content_role=row.content_role,
            data_role=row.data_role,
            expires_at=row.expires_at,
            link=link,
        )


class StaffOut(BaseModel):
    staff: list[MemberOut]
    invites: list[InviteOut] = Field(description="Invitations not yet accepted nor expired.")


class LearnerOut(BaseModel):
    user_id: int
    email: str | None
    display_name: str | None
    joined_at: datetime | None

    @classmethod
    def of(cls, member: Member) -> LearnerOut:
        user = member.user
        return cls(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            joined_at=member.joined_at,
        )
