"""Who may do what in a course: the permission matrix, in one table.

Staff hold a role on each of two axes, as PrairieLearn has them: course content (viewer <
editor < owner) and learner data (none < viewer < editor). Each permission asks for a minimum
role on one axis, and nothing else grants it, except a site administrator's account (which
may do everything). The axes are independent on purpose: a teaching assistant may grade
(data editor) without touching the questions (content viewer), and an author the reverse.

`course:view` is the one permission learners hold: an enrolled learner may open the course.
Every course route asks for one of these through app.courses.deps.course_access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

from app.learners.sessions import Account

ContentRole = Literal["viewer", "editor", "owner"]
DataRole = Literal["none", "viewer", "editor"]
CONTENT_ROLES: tuple[ContentRole, ...] = get_args(ContentRole)  # lowest first
DATA_ROLES: tuple[DataRole, ...] = get_args(DataRole)

Permission = Literal[
    "course:view",  # open the course home: its title and what a learner can do there
    "content:view",  # see the course's settings, join code, staff and its question bank
    "content:edit",  # author questions, import a bank
    "course:manage",  # rename, archive, new join code, invite staff and change their roles
    "results:view",  # the learner list; later the gradebook and statistics
    "results:edit",  # remove learners; later grade overrides
]
Axis = Literal["member", "content", "data"]


@dataclass(frozen=True)
class Rule:
    axis: Axis
    minimum: str  # a role of that axis; "learner" on the member axis


# The matrix. The member axis: an enrolled learner, or any staff member.
MATRIX: dict[Permission, Rule] = {
    "course:view": Rule("member", "learner"),
    "content:view": Rule("content", "viewer"),
    "content:edit": Rule("content", "editor"),
    "course:manage": Rule("content", "owner"),
    "results:view": Rule("data", "viewer"),
    "results:edit": Rule("data", "editor"),
}
PERMISSIONS: tuple[Permission, ...] = get_args(Permission)


@dataclass(frozen=True)
class Roles:
    """An account's standing in one course: its staff roles (None when not on the staff),
    whether it is enrolled as a learner, and whether it is a site administrator."""

    content: ContentRole | None = None
    data: DataRole | None = None
    enrolled: bool = False
    admin: bool = False

    @classmethod
    def of_staff(cls, content: str, data: str, *, enrolled: bool = False) -> Roles:
        """From a staff row's columns (an unknown role is kept, and grants nothing)."""
        return cls(cast(ContentRole, content), cast(DataRole, data), enrolled=enrolled)

    @property
    def is_staff(self) -> bool:
        return self.content is not None


def allows(roles: Roles | None, account: Account | None, permission: Permission) -> bool:
    """Whether this account, with these roles in the course, holds the permission."""
    if account is None:
        return False
    if account.is_admin:
        return True
    if roles is None:
        return False
    rule = MATRIX[permission]
    if rule.axis == "member":
        return roles.enrolled or roles.is_staff
    if rule.axis == "content":
        return _at_least(CONTENT_ROLES, roles.content, rule.minimum)
    return _at_least(DATA_ROLES, roles.data, rule.minimum)


def _at_least(order: tuple[str, ...], held: str | None, minimum: str) -> bool:
    # A role this table does not know (a hand-edited row) grants nothing.
    return held in order and order.index(held) >= order.index(minimum)


def granted(roles: Roles | None, account: Account | None) -> frozenset[Permission]:
    """Every permission held: for pages to show only the controls that will work."""
    return frozenset(p for p in PERMISSIONS if allows(roles, account, p))


def describe(permission: Permission) -> str:
    """For a 403: what is needed, in words."""
    rule = MATRIX[permission]
    if rule.axis == "member":
        return f"{permission} (a learner enrolled in this course, or its staff)"
    axis = "course content" if rule.axis == "content" else "learner data"
    return f"{permission} (the {rule.minimum} role or above on {axis})"
