"""Names and Role Provisioning: a course's roster read from its LMS and synced into ours.

Each LMS course (LTI context) linked to the course is read from the memberships URL its last
launch gave, page after page (`Link: <...>; rel="next"`). Each member is matched to an
account by (issuer, user id), made when new (an email given by the LMS never joins an
existing local account: that would let an LMS sign in as anyone), then enrolled, or put on
the staff, by role; members the LMS marks Inactive or Deleted are unenrolled. The network is
awaited outside any transaction; the database work runs through `Database.run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import Database
from app.core.errors import ConflictError
from app.courses import service as courses
from app.courses.models import Course, CourseStaff, Enrolment
from app.lti import ags
from app.lti.keys import ToolKey, current_key
from app.lti.models import LtiContext, LtiPlatform, LtiResourceLink
from app.lti.roles import CourseRoles, course_roles
from app.lti.roster import Member, account_for, find_account

MEMBERSHIPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 1000  # a platform whose "next" never ends is cut off here
GONE = frozenset({"Inactive", "Deleted"})


@dataclass
class RosterCounts:
    """What a sync did, for the page and the API."""

    members: int = 0
    created: int = 0  # new accounts
    enrolled: int = 0  # newly enrolled learners
    staffed: int = 0  # newly added staff
    unenrolled: int = 0
    contexts: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: RosterCounts) -> None:
        for name in ("members", "created", "enrolled", "staffed", "unenrolled", "contexts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class Source:
    """One LMS course linked to ours, and where its roster is read."""

    platform: ags.Platform
    context_title: str | None
    memberships_url: str


def sources(db: Session, course_id: int) -> list[Source]:
    """The course's LMS contexts that offer a roster: each with the memberships URL of its
    most recently launched resource link."""
    rows = db.execute(
        select(LtiPlatform, LtiContext, LtiResourceLink.nrps_url)
        .join(LtiContext, LtiContext.platform_id == LtiPlatform.id)
        .join(LtiResourceLink, LtiResourceLink.context_id == LtiContext.id)
        .where(
            LtiContext.course_id == course_id,
            LtiResourceLink.nrps_url.is_not(None),
            LtiPlatform.active.is_(True),
        )
        .order_by(LtiContext.id, LtiResourceLink.updated_at.desc(), LtiResourceLink.id.desc())
    ).all()
    found: dict[int, Source] = {}
    for platform, context, url in rows:
        if context.id not in found and url:
            found[context.id] = Source(_platform(platform), context.title, url)
    return list(found.values())


def _platform(row: LtiPlatform) -> ags.Platform:
    return ags.Platform(row.id, row.issuer, row.client_id, row.token_url, row.token_audience)


async def fetch_members(services: ags.Services, url: str) -> list[dict[str, Any]]:
    """Every member, following `rel="next"` links until there is none."""
    members: list[dict[str, Any]] = []
    seen: set[str] = set()
    next_url: str | None = url
    while next_url and next_url not in seen and len(seen) < MAX_PAGES:
        seen.add(next_url)
        answer = await services.request(
            "GET", next_url, [ags.SCOPE_NRPS], headers={"Accept": MEMBERSHIPS_TYPE}
        )
        if not answer.is_success:
            said = f"{answer.status_code} {answer.text[:300]}".strip()
            raise ags.ServiceError(f"reading the roster: {said}", status=answer.status_code)
        try:
            body = answer.json()
        except ValueError:
            raise ags.ServiceError("the roster page is not JSON", status=502) from None
        page = body.get("members") if isinstance(body, dict) else None
        if not isinstance(page, list):
            raise ags.ServiceError("the roster page has no members list", status=502)
        members.extend(m for m in page if isinstance(m, dict) and m.get("user_id"))
        next_url = answer.links.get("next", {}).get("url")
    return members


def apply_members(
    db: Session, course_id: int, issuer: str, members: list[dict[str, Any]]
) -> RosterCounts:
    """Match or create each member's account, then enrol, staff or unenrol it."""
    course = db.get(Course, course_id)
    assert course is not None
    counts = RosterCounts(members=len(members), contexts=1)
    for raw in members:
        member = Member.of(raw)
        if member.status in GONE:  # unenrolled if we know them; no account made for them
            gone = find_account(db, issuer, member.user_id)
            if gone is not None and db.get(Enrolment, (course.id, gone.id)) is not None:
                courses.leave(db, course, gone.id)
                counts.unenrolled += 1
            continue
        user, created = account_for(db, issuer, member)
        counts.created += created
        roles = course_roles(member.roles)  # the launch's own mapping (app.lti.roles)
        if roles.staff:
            counts.staffed += _staff(db, course, user.id, roles)
        elif roles.learner and db.get(CourseStaff, (course.id, user.id)) is None:
            counts.enrolled += _enrol(db, course, user.id)
    db.flush()
    return counts


def _enrol(db: Session, course: Course, user_id: int) -> int:
    try:
        return int(courses.join(db, course, user_id))
    except ConflictError:  # an archived course takes no learners: nothing to sync into
        return 0


def _staff(db: Session, course: Course, user_id: int, roles: CourseRoles) -> int:
    """An LMS instructor on our staff with the roles the launch would give, unless already
    staff: a sync only adds (the next launch of that person sets their roles exactly), so it
    never demotes the course's local owner."""
    if db.get(CourseStaff, (course.id, user_id)) is not None:
        return 0
    content, data = roles.content_role or "viewer", roles.data_role or "none"
    db.add(CourseStaff(course_id=course.id, user_id=user_id, content_role=content, data_role=data))
    db.flush()
    return 1


async def sync_roster(database: Database, http: httpx.AsyncClient, course_id: int) -> RosterCounts:
    """Read every linked LMS course's roster and sync it into the course: the counts."""

    async def signer() -> ToolKey:
        return await database.run(current_key)

    total = RosterCounts()
    for source in await database.run(sources, course_id):
        services = ags.Services(http, source.platform, signer)
        try:
            members = await fetch_members(services, source.memberships_url)
        except ags.ServiceError as exc:
            total.errors.append(f"{source.context_title or source.platform.issuer}: {exc.message}")
            continue
        total.add(await database.run(apply_members, course_id, source.platform.issuer, members))
    return total


SYNC_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


async def sync_course(database: Database, course_id: int) -> RosterCounts:
    """`sync_roster` with a client of its own (the pages' and the API's button)."""
    async with httpx.AsyncClient(timeout=SYNC_TIMEOUT, headers={"User-Agent": "torchquiz"}) as http:
        return await sync_roster(database, http, course_id)
