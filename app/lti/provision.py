"""After a launch is validated: the account, the course, the roles and the resource link it
tells of, a session for the browser, and where it lands.

Accounts are matched by the LMS's user id under its issuer (ExternalIdentity), never by email:
an LMS's say-so must not sign anyone into an account made here. Courses are matched by the
LMS course (the context) under its platform; the first launch into an unknown context makes a
course of ours for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.service import account_learner, start_session
from app.attempts.models import Assignment
from app.core.bounds import NAME_LENGTH
from app.core.db import add_once, utcnow
from app.courses.models import Course
from app.courses.service import create_course
from app.learners.models import SUBJECT_LENGTH, ExternalIdentity, User
from app.lti.launch import (
    AGS_ENDPOINT,
    CONTEXT,
    CUSTOM,
    DEEP_LINKING_REQUEST,
    DEEP_LINKING_SETTINGS,
    NRPS,
    RESOURCE_LINK,
    Launch,
    LaunchError,
)
from app.lti.models import (
    LTI_ID_LENGTH,
    TARGET_LENGTH,
    URL_LENGTH,
    LtiContext,
    LtiDeepLink,
    LtiResourceLink,
)
from app.lti.roles import CourseRoles, apply_roles, course_roles
from app.questions.models import TopicRow

DEEP_LINK_LIFETIME = timedelta(hours=1)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Landing:
    """Where the launched browser goes, signed in as whom."""

    location: str
    session_token: str
    learner_public_id: str
    user_id: int
    course_id: int | None


def land(db: Session, launch: Launch, lifetime: timedelta) -> Landing:
    """Match or make the account and the course, apply the roles, note the resource link,
    start the session; where to send the browser."""
    if len(launch.subject) > SUBJECT_LENGTH:
        raise LaunchError("the id_token's user id (sub) is longer than 255 characters")
    user = _account(db, launch)
    context = _context(db, launch, user)
    roles = course_roles(launch.roles)
    if context is not None and roles != CourseRoles():
        # No role we know (LTI allows an empty list): the standing held so far stays.
        apply_roles(db, context.course_id, user.id, roles)
    if launch.message_type == DEEP_LINKING_REQUEST:
        location = _deep_link(db, launch, user, context)
    else:
        link = _resource_link(db, launch, context)
        location = _target(db, link.target, context)
    learner = account_learner(db, user)
    token = start_session(db, user, lifetime)
    course_id = context.course_id if context is not None else None
    return Landing(location, token, learner.public_id, user.id, course_id)


def _text(value: object, length: int) -> str | None:
    """A claim's text as we can store and show it: no control characters, cut to length."""
    if not isinstance(value, str):
        return None
    cleaned = _CONTROL.sub(" ", value).strip()[:length].strip()
    return cleaned or None


def _display_name(claims: dict[str, Any]) -> str | None:
    given = " ".join(
        p for p in (claims.get("given_name"), claims.get("family_name")) if isinstance(p, str)
    )
    return _text(claims.get("name"), NAME_LENGTH) or _text(given, NAME_LENGTH)


def _account(db: Session, launch: Launch) -> User:
    issuer, subject = launch.platform.issuer, launch.subject
    known = (
        select(User)
        .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
        .where(ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject)
    )
    name = _display_name(launch.claims)
    user = db.scalar(known)
    if user is not None:
        if name and user.display_name != name:
            user.display_name = name
        return user
    # No email, whatever the claims say: an address here may be someone else's account.
    user = User(email=None, display_name=name, password_hash=None, site_role="learner")
    db.add(user)
    db.flush()
    if not add_once(db, ExternalIdentity(issuer=issuer, subject=subject, user_id=user.id)):
        db.delete(user)  # the same person's other launch (or the roster sync) got there first
        db.flush()
        found = db.scalar(known)
        assert found is not None
        return found
    return user


def _context(db: Session, launch: Launch, user: User) -> LtiContext | None:
    claim = launch.claim(CONTEXT)
    context_id = _text(claim.get("id"), LTI_ID_LENGTH)
    if context_id is None:
        return None  # launched from outside a course (a platform-wide placement)
    platform_id = launch.platform.id
    title = _text(claim.get("title"), NAME_LENGTH) or _text(claim.get("label"), NAME_LENGTH)
    found = db.scalar(
        select(LtiContext).where(
            LtiContext.platform_id == platform_id, LtiContext.context_id == context_id
        )
    )
    if found is not None:
        found.title = title or found.title
        return found
    course = create_course(db, user.id, title or f"{launch.platform.name} course")
    if not course_roles(launch.roles).staff:
        course.created_by = None  # a learner's launch made it; the LMS's staff own it
    row = LtiContext(platform_id=platform_id, context_id=context_id, course_id=course.id)
    row.title = title
    if not add_once(db, row):  # another launch made it meanwhile: use theirs
        db.delete(course)
        db.flush()
        found = db.scalar(
            select(LtiContext).where(
                LtiContext.platform_id == platform_id, LtiContext.context_id == context_id
            )
        )
        assert found is not None
        return found
    return row


def _resource_link(db: Session, launch: Launch, context: LtiContext | None) -> LtiResourceLink:
    claim = launch.claim(RESOURCE_LINK)
    link_id = _text(claim.get("id"), LTI_ID_LENGTH) or ""
    platform_id = launch.platform.id
    query = select(LtiResourceLink).where(
        LtiResourceLink.platform_id == platform_id, LtiResourceLink.resource_link_id == link_id
    )
    row = db.scalar(query)
    if row is None:
        row = LtiResourceLink(platform_id=platform_id, resource_link_id=link_id, ags_scopes=[])
        row.deployment_id = launch.deployment_id
        if not add_once(db, row):
            row = db.scalar(query)
            assert row is not None
    target = _text(launch.claim(CUSTOM).get("target"), TARGET_LENGTH)
    ags, nrps = launch.claim(AGS_ENDPOINT), launch.claim(NRPS)
    scopes = ags.get("scope")
    row.deployment_id = launch.deployment_id
    row.context_id = context.id if context is not None else None
    row.target = target
    row.title = _text(claim.get("title"), NAME_LENGTH)
    row.ags_lineitem = _text(ags.get("lineitem"), URL_LENGTH)
    row.ags_lineitems = _text(ags.get("lineitems"), URL_LENGTH)
    row.ags_scopes = [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else []
    row.nrps_url = _text(nrps.get("context_memberships_url"), URL_LENGTH)
    row.updated_at = utcnow()
    db.flush()
    return row


def _deep_link(db: Session, launch: Launch, user: User, context: LtiContext | None) -> str:
    now = utcnow()
    row = LtiDeepLink(
        platform_id=launch.platform.id,
        user_id=user.id,
        course_id=context.course_id if context is not None else None,
        deployment_id=launch.deployment_id,
        settings=launch.claim(DEEP_LINKING_SETTINGS),
        created_at=now,
        expires_at=now + DEEP_LINK_LIFETIME,
    )
    db.add(row)
    db.flush()
    return f"/lti/deep-link/{row.public_id}"


def _target(db: Session, target: str | None, context: LtiContext | None) -> str:
    """The page a resource link's `target` names: an assignment, a practice set, or (none)
    the course's page. A target that names nothing we have is refused, not guessed."""
    kind, _, name = (target or "").partition(":")
    if kind == "assignment" and name:
        if db.scalar(select(Assignment.id).where(Assignment.public_id == name)) is None:
            raise LaunchError(
                f"the link's target assignment {name!r} does not exist here", status=404
            )
        return f"/assignments/{quote(name, safe='')}"
    if kind == "practice" and name:
        topic = db.scalar(select(TopicRow).where(TopicRow.slug == name))
        if topic is None:
            raise LaunchError(f"the link's target topic {name!r} does not exist here", status=404)
        if topic.course_id is not None:
            course = db.get(Course, topic.course_id)
            assert course is not None
            return f"/courses/{quote(course.slug, safe='')}/practice"
        return f"/topics/{quote(name, safe='')}/practice"
    if target:
        raise LaunchError(f"the link's target {target!r} is not one we know", status=404)
    if context is not None:
        course = db.get(Course, context.course_id)
        assert course is not None
        return f"/courses/{quote(course.slug, safe='')}"
    return "/"
