"""The LTI services tests' arrangements: a platform (the emulator) registered, an LMS course
linked to one of ours with a resource link to an assignment, learners known by their LMS ids,
and the outbox drained on the test's own database connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database, utcnow
from app.core.deps import get_database
from app.courses.models import Course
from app.learners.models import ExternalIdentity, User
from app.lti import ags, keys
from app.lti.models import LtiContext, LtiPlatform, LtiResourceLink
from app.outbox.delivery import Outbox
from app.outbox.models import OutboxMessage
from tests.lti.conftest import register
from tests.lti.emulator import AGS_SCOPES, Platform


@pytest.fixture(name="lms")
def lms_fixture(db: Session) -> Iterator[Platform]:
    """A fresh emulated LMS per test (its scores, line items and token count start at zero),
    trusting the tool's keys as they are in the test's transaction."""
    with Platform() as platform:
        snapshot = keys.jwks(db)
        platform.tool_jwks = lambda: snapshot
        ags.TOKENS.clear()
        yield platform
    ags.TOKENS.clear()


@dataclass
class Linked:
    platform: LtiPlatform
    context: LtiContext
    link: LtiResourceLink


def link_course(
    db: Session,
    lms: Platform,
    course: Course,
    target: str | None,
    *,
    resource_link_id: str = "link-1",
    lineitem: str | None = None,
    lineitems: bool = True,
    platform: LtiPlatform | None = None,
) -> Linked:
    """The LMS course linked to `course`, with a resource link opening `target`, as a launch
    would have recorded them."""
    platform = platform or register(db, lms)
    context = db.scalar(
        select(LtiContext).where(
            LtiContext.platform_id == platform.id, LtiContext.context_id == lms.context_id
        )
    )
    if context is None:
        context = LtiContext(
            platform_id=platform.id,
            context_id=lms.context_id,
            course_id=course.id,
            title=lms.context_title,
        )
        db.add(context)
        db.flush()
    link = LtiResourceLink(
        platform_id=platform.id,
        deployment_id=lms.deployment_ids[0],
        resource_link_id=resource_link_id,
        context_id=context.id,
        target=target,
        title="Week 1 quiz",
        ags_lineitem=lineitem,
        ags_lineitems=lms.lineitems_url if lineitems else None,
        ags_scopes=list(AGS_SCOPES.values()),
        nrps_url=lms.memberships_url,
    )
    db.add(link)
    db.flush()
    return Linked(platform, context, link)


def known_as(db: Session, lms: Platform, user: User, sub: str) -> None:
    """The LMS knows `user` as `sub` (as their first launch would have recorded)."""
    db.add(ExternalIdentity(issuer=lms.issuer, subject=sub, user_id=user.id))
    db.flush()


def isolated_database(app: FastAPI) -> Database:
    """The app's database as the test's routes see it: the test's own connection."""
    provider: Callable[[], Database] = app.dependency_overrides[get_database]
    return provider()


def drain(app: FastAPI, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> int:
    """Deliver every outbox message due at `clock()` (one at a time: the test's connection
    is shared), with a client made on this run's event loop."""

    async def deliver() -> int:
        async with httpx.AsyncClient(timeout=10) as http:
            outbox = Outbox(isolated_database(app), settings, http=http, clock=clock, concurrency=1)
            return await outbox.drain()

    return asyncio.run(deliver())


def messages(db: Session, kind: str = "ags_score") -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


def later(seconds: float) -> Callable[[], datetime]:
    """A clock `seconds` ahead: a retry's backoff passed without sleeping through it."""
    from datetime import timedelta

    return lambda: utcnow() + timedelta(seconds=seconds)


def score_times(scores: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(s["timestamp"]) for s in scores]
