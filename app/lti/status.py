"""What a course's LTI page shows its staff: the links LMSs placed into the course, and the
last grade sent per learner and line item with the platform's answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import as_utc
from app.learners.models import ExternalIdentity, User
from app.lti.grades import LtiLineItem, LtiScore
from app.lti.models import LtiContext, LtiPlatform, LtiResourceLink


@dataclass(frozen=True)
class LinkRow:
    platform: str
    context: str | None
    title: str | None
    target: str | None
    graded: bool
    roster: bool


@dataclass(frozen=True)
class ScoreRow:
    line_item: str
    subject: str
    name: str | None
    score: float | None
    timestamp: datetime | None
    status: int | None
    error: str | None


def course_links(db: Session, course_id: int) -> list[LinkRow]:
    """The LMS links into the course: which platform and LMS course, what they open, and
    whether grades and the roster flow."""
    rows = db.execute(
        select(LtiResourceLink, LtiContext.title, LtiPlatform.name)
        .join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
        .join(LtiPlatform, LtiPlatform.id == LtiResourceLink.platform_id)
        .where(LtiContext.course_id == course_id)
        .order_by(LtiPlatform.name, LtiContext.title, LtiResourceLink.id)
    ).all()
    return [
        LinkRow(
            platform=name,
            context=context,
            title=link.title,
            target=link.target,
            graded=bool(link.ags_lineitem or link.ags_lineitems),
            roster=link.nrps_url is not None,
        )
        for link, context, name in rows
    ]


def course_scores(db: Session, course_id: int, limit: int = 200) -> list[ScoreRow]:
    """The last score sent per learner and line item of the course's links, newest first."""
    rows = db.execute(
        select(LtiScore, LtiLineItem.url, User.display_name)
        .join(LtiLineItem, LtiLineItem.id == LtiScore.line_item_id)
        .join(LtiResourceLink, LtiResourceLink.id == LtiLineItem.resource_link_id)
        .join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
        .join(LtiPlatform, LtiPlatform.id == LtiLineItem.platform_id)
        .outerjoin(
            ExternalIdentity,
            (ExternalIdentity.issuer == LtiPlatform.issuer)
            & (ExternalIdentity.subject == LtiScore.subject),
        )
        .outerjoin(User, User.id == ExternalIdentity.user_id)
        .where(LtiContext.course_id == course_id)
        .order_by(LtiScore.updated_at.desc(), LtiScore.id.desc())
        .limit(limit)
    ).all()
    return [
        ScoreRow(
            line_item=url,
            subject=score.subject,
            name=name,
            score=score.score,
            timestamp=as_utc(score.timestamp) if score.timestamp else None,
            status=score.last_status,
            error=score.last_error,
        )
        for score, url, name in rows
    ]
