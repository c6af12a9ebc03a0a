"""Grade passback: a submitted attempt (or a grade changed by hand) becomes an outbox message
per (resource link, learner), and the outbox's deliverer posts the learner's grade to the
platform's line item.

The message carries no grade: the deliverer reads the gradebook's final grade when it runs
(`app.gradebook.service.grade_rows`, the one formula, overrides included), so a stale message
never sends an old grade, and a grade the platform already took is not sent again.

How the platform's answer is taken: 2xx delivered; 400/403/404 refused for good (Moodle says
400 for a learner not in the course), its reason kept; 409 (the timestamp was not later than
the last the platform took) tried again with a later one; 5xx and timeouts tried again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.models import Assignment
from app.core import events
from app.core.db import add_once, as_utc, utcnow
from app.gradebook.service import grade_rows
from app.learners.models import ExternalIdentity, Learner
from app.lti import ags
from app.lti.grades import LtiLineItem, LtiScore
from app.lti.keys import ToolKey, current_key
from app.lti.models import LtiPlatform, LtiResourceLink
from app.outbox import delivery
from app.outbox.delivery import Delivered, DeliveryContext, Outcome, Refused, Retry
from app.outbox.service import enqueue

KIND = "ags_score"
REFUSED = frozenset({400, 403, 404, 422})  # the platform's permanent no for this learner
TIMESTAMP_CONFLICT = 409


def assignment_target(assignment: Assignment) -> str:
    return f"assignment:{assignment.public_id}"


def enqueue_scores(db: Session, assignment_id: int, learner_id: int) -> None:
    """One `ags_score` message per resource link of the assignment on a platform that knows
    this learner (an external identity under its issuer), a pending one for the same link and
    learner replaced."""
    user_id = db.scalar(select(Learner.user_id).where(Learner.id == learner_id))
    assignment = db.get(Assignment, assignment_id)
    if user_id is None or assignment is None:
        return
    links = db.execute(
        select(LtiResourceLink.id, ExternalIdentity.subject)
        .join(LtiPlatform, LtiPlatform.id == LtiResourceLink.platform_id)
        .join(ExternalIdentity, ExternalIdentity.issuer == LtiPlatform.issuer)
        .where(
            ExternalIdentity.user_id == user_id,
            LtiResourceLink.target == assignment_target(assignment),
            (LtiResourceLink.ags_lineitem.is_not(None))
            | (LtiResourceLink.ags_lineitems.is_not(None)),
        )
        .order_by(LtiResourceLink.id)
    ).all()
    for link_id, subject in links:
        payload = {
            "link": link_id,
            "assignment": assignment_id,
            "learner": learner_id,
            "subject": subject,
        }
        key = f"{link_id}:{learner_id}"
        enqueue(db, KIND, payload, key=key, course_id=assignment.course_id, replace_pending=True)


def on_attempt_submitted(db: Session, event: events.AttemptSubmitted) -> None:
    """app.core.events handler: a submitted attempt at an assignment may change its grade."""
    enqueue_scores(db, event.assignment_id, event.learner_id)


# --- delivery -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What one delivery needs, read in one transaction."""

    platform: ags.Platform
    link: ags.LinkServices
    link_row_id: int
    title: str
    resource_id: str
    line_item_id: int | None
    line_item_url: str | None


@dataclass(frozen=True)
class ScoreState:
    grade: float | None  # the gradebook's final grade now (None: nothing to send)
    accepted: float | None  # the last score the platform took
    last_timestamp: datetime | None


def _load(db: Session, payload: dict[str, Any]) -> Job | None:
    link = db.get(LtiResourceLink, payload["link"])
    assignment = db.get(Assignment, payload["assignment"])
    if link is None or assignment is None:
        return None
    platform = db.get(LtiPlatform, link.platform_id)
    if platform is None or not platform.active:
        return None
    item = _line_item_of(db, link)
    return Job(
        platform=ags.Platform(
            platform.id,
            platform.issuer,
            platform.client_id,
            platform.token_url,
            platform.token_audience,
        ),
        link=ags.LinkServices(
            link.resource_link_id, link.ags_lineitem, link.ags_lineitems, tuple(link.ags_scopes)
        ),
        link_row_id=link.id,
        title=assignment.title,
        resource_id=assignment.public_id,
        line_item_id=item.id if item else None,
        line_item_url=item.url if item else None,
    )


def _url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def _line_item_of(db: Session, link: LtiResourceLink) -> LtiLineItem | None:
    """The line item known for the link: its declared one if it has one (which may change
    between launches), else the one we found or created for it."""
    if link.ags_lineitem:
        return db.scalar(
            select(LtiLineItem).where(
                LtiLineItem.platform_id == link.platform_id,
                LtiLineItem.url_hash == _url_hash(link.ags_lineitem),
            )
        )
    return db.scalar(
        select(LtiLineItem)
        .where(LtiLineItem.resource_link_id == link.id)
        .order_by(LtiLineItem.id.desc())
        .limit(1)
    )


def _keep_line_item(db: Session, job: Job, url: str, created: bool) -> int:
    known = select(LtiLineItem).where(
        LtiLineItem.platform_id == job.platform.id, LtiLineItem.url_hash == _url_hash(url)
    )
    row = db.scalar(known)
    if row is None:
        row = LtiLineItem(
            platform_id=job.platform.id,
            resource_link_id=job.link_row_id,
            url=url,
            url_hash=_url_hash(url),
            created_by_us=created,
        )
        if not add_once(db, row):
            row = db.scalar(known)
    assert row is not None
    return row.id


def _score_state(db: Session, payload: dict[str, Any], line_item_id: int) -> ScoreState:
    assignment = db.get(Assignment, payload["assignment"])
    rows = grade_rows(db, assignment, payload["learner"]) if assignment else []
    grade = rows[0].final if rows else None
    sent = _score_row(db, line_item_id, payload["subject"])
    return ScoreState(
        grade=grade,
        accepted=sent.score if sent else None,
        last_timestamp=as_utc(sent.timestamp) if sent and sent.timestamp else None,
    )


def _score_row(db: Session, line_item_id: int, subject: str) -> LtiScore | None:
    return db.scalar(
        select(LtiScore).where(LtiScore.line_item_id == line_item_id, LtiScore.subject == subject)
    )


def _record(
    db: Session,
    line_item_id: int,
    subject: str,
    *,
    timestamp: datetime,
    status: int | None,
    accepted: float | None,
    error: str | None,
) -> None:
    row = _score_row(db, line_item_id, subject)
    if row is None:
        row = LtiScore(line_item_id=line_item_id, subject=subject)
        if not add_once(db, row):
            row = _score_row(db, line_item_id, subject)
            assert row is not None
    if row.timestamp is None or as_utc(row.timestamp) < timestamp:
        row.timestamp = timestamp
    if accepted is not None:
        row.score = accepted
    row.last_status, row.last_error = status, error
    db.flush()


def next_timestamp(last: datetime | None, now: datetime | None = None) -> datetime:
    """Now, to the second, or a second after the last one sent if now is not later: a
    platform takes only a strictly later timestamp per learner (Moodle: 409)."""
    moment = (now or utcnow()).replace(microsecond=0)
    if last is not None and moment <= last:
        moment = last.replace(microsecond=0) + timedelta(seconds=1)
    return moment


async def deliver_score(ctx: DeliveryContext, payload: dict[str, Any]) -> Outcome:
    """The outbox's deliverer of `ags_score` messages."""
    job = await ctx.database.run(_load, payload)
    if job is None:
        return Refused("the resource link, its platform or the assignment is gone")

    async def signer() -> ToolKey:
        return await ctx.database.run(current_key)

    services = ags.Services(ctx.http, job.platform, signer)
    line_item_id, url = job.line_item_id, job.line_item_url
    try:
        if line_item_id is None or url is None:
            url, created = await ags.find_or_create_line_item(
                services, job.link, label=job.title, resource_id=job.resource_id
            )
            line_item_id = await ctx.database.run(_keep_line_item, job, url, created)
        return await _post(ctx, services, payload, line_item_id, url)
    except ags.ServiceError as exc:
        if exc.permanent:
            return Refused(exc.message, exc.status)
        return Retry(exc.message, status=exc.status)


async def _post(
    ctx: DeliveryContext,
    services: ags.Services,
    payload: dict[str, Any],
    line_item_id: int,
    url: str,
) -> Outcome:
    state = await ctx.database.run(_score_state, payload, line_item_id)
    if state.grade is None or state.grade == state.accepted:
        return Delivered()  # nothing new to send
    subject = payload["subject"]
    timestamp = next_timestamp(state.last_timestamp)
    answer = await ags.post_score(services, url, ags.score_body(subject, state.grade, timestamp))
    status = answer.status_code
    said = None if answer.is_success else f"{status} {answer.text[:500]}".strip()
    accepted = state.grade if answer.is_success else None
    await ctx.database.run(
        _record,
        line_item_id,
        subject,
        timestamp=timestamp,
        status=status,
        accepted=accepted,
        error=said,
    )
    if answer.is_success:
        return Delivered(status)
    if status in REFUSED:
        return Refused(said or str(status), status)
    if status == TIMESTAMP_CONFLICT:
        return Retry(f"{said}: again with a later timestamp", status=status, after=1.0)
    return Retry(said or str(status), status=status, after=_retry_after(answer))


def _retry_after(answer: Any) -> float | None:
    value = answer.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def install() -> None:
    """Grade passback on (create_app): the submitted-attempt handler, grades set by hand
    (overrides and regrades), and the outbox's deliverer."""
    events.on_attempt_submitted(on_attempt_submitted)
    events.on_grade_changed(enqueue_scores)
    delivery.register(KIND, deliver_score)
