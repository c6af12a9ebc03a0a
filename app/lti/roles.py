"""LTI roles (LIS vocabulary) as our course roles. The LMS is the authority on who teaches
its course: each launch sets the user's standing in the course to what its roles say, a
downgrade included. Used by the launch and by the roster sync (app.lti.nrps).

    Administrator (membership or institution)  -> staff: content owner, data editor
    Instructor                                 -> staff: content owner, data editor
    TeachingAssistant (Instructor's sub-role)  -> staff: content viewer, data editor
    ContentDeveloper                           -> staff: content editor, no learner data
    Learner                                    -> an enrolled learner
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.core.db import add_once
from app.courses.models import CourseStaff, Enrolment

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
ADMINISTRATOR = frozenset({"membership#Administrator", "institution/person#Administrator"})
INSTRUCTOR = "membership#Instructor"
TEACHING_ASSISTANT = frozenset(
    {"membership/Instructor#TeachingAssistant", "membership#TeachingAssistant"}
)
CONTENT_DEVELOPER = "membership#ContentDeveloper"
LEARNER = "membership#Learner"
# LTI 1.3 still accepts a context role's simple name ("Instructor"): deprecated, seen in the wild.
SIMPLE = {"Administrator", "Instructor", "TeachingAssistant", "ContentDeveloper", "Learner"}


@dataclass(frozen=True)
class CourseRoles:
    """What a user is in a course: staff (its two roles) or a learner, or neither."""

    content_role: str | None = None
    data_role: str | None = None
    learner: bool = False

    @property
    def staff(self) -> bool:
        return self.content_role is not None


def role_names(roles: Iterable[object]) -> frozenset[str]:
    """Each role without the LIS prefix: "membership#Instructor", "institution/person#..."."""
    names = set()
    for role in roles:
        if not isinstance(role, str):
            continue
        if role in SIMPLE:
            role = f"membership#{role}"
        names.add(role.removeprefix(LIS))
    return frozenset(names)


def course_roles(roles: Iterable[object]) -> CourseRoles:
    """The course roles a launch's (or a roster member's) LTI roles grant. A teaching
    assistant is often sent as Instructor too (Canvas): the sub-role restricts."""
    names = role_names(roles)
    if names & ADMINISTRATOR:
        return CourseRoles("owner", "editor")
    if names & TEACHING_ASSISTANT:
        return CourseRoles("viewer", "editor")
    if INSTRUCTOR in names:  # the LMS's teacher runs the course here too (staff, webhooks)
        return CourseRoles("owner", "editor")
    if CONTENT_DEVELOPER in names:
        return CourseRoles("editor", "none")
    if LEARNER in names or any(n.startswith("membership/Learner#") for n in names):
        return CourseRoles(learner=True)
    return CourseRoles()


def may_deep_link(roles: Iterable[object]) -> bool:
    """Placing content in the LMS course is for its instructors and administrators."""
    names = role_names(roles)
    return bool(names & ADMINISTRATOR) or INSTRUCTOR in names


def apply_roles(db: Session, course_id: int, user_id: int, roles: CourseRoles) -> None:
    """Make the user's standing in the course exactly `roles` (staff row, enrolment)."""
    staff = db.get(CourseStaff, (course_id, user_id))
    enrolment = db.get(Enrolment, (course_id, user_id))
    if roles.staff:
        content, data = roles.content_role or "viewer", roles.data_role or "none"
        if staff is None:
            row = CourseStaff(
                course_id=course_id, user_id=user_id, content_role=content, data_role=data
            )
            add_once(db, row)
        else:
            staff.content_role, staff.data_role = content, data
    elif staff is not None:
        db.delete(staff)
    if roles.learner and enrolment is None:
        add_once(db, Enrolment(course_id=course_id, user_id=user_id))
    elif not roles.learner and enrolment is not None:
        db.delete(enrolment)
    db.flush()
