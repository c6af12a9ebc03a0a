"""Deep Linking 2.0: an instructor, inside the LMS, picks what of ours to place in their course,
and we answer the platform with a signed LtiDeepLinkingResponse listing it.

The launch (app.lti.launch) validated the LtiDeepLinkingRequest and stored its settings as
an `LtiDeepLink` row; the picker reads it here. Only the account that launched may use it, and
only while it is fresh; it is used once (the platform's `data` is echoed to it exactly once).
Each choice becomes an `ltiResourceLink` content item whose custom `target` the resource-link
launch routes by; an assignment's carries a `lineItem`, so the platform makes the gradebook
column our scores go to.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.attempts.models import Assignment
from app.core.errors import AppError, ForbiddenError, NotFoundError
from app.courses.models import Course
from app.courses.permissions import allows
from app.courses.service import roles_in
from app.learners.sessions import Account
from app.lti.ags import SCORE_MAXIMUM, TAG
from app.lti.keys import current_key
from app.lti.launch import DeepLinkRequest, load_deep_link
from app.lti.models import LtiDeepLink, LtiPlatform
from app.questions.models import TopicRow

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
RESPONSE_LIFETIME = 300  # seconds: the response JWT's exp
RESOURCE_LINK = "ltiResourceLink"


@dataclass(frozen=True)
class Choice:
    """Something that can be linked: `target` as the launch reads it."""

    target: str  # "assignment:<public id>" or "practice:<topic slug>"
    title: str
    kind: str  # "assignment", "course practice", "practice"
    graded: bool
    resource_id: str


@dataclass(frozen=True)
class Picker:
    """A deep-linking request (as the launch stored it), ready for its picker page."""

    request: DeepLinkRequest
    platform: LtiPlatform
    course: Course | None
    choices: list[Choice]

    @property
    def multiple(self) -> bool:
        return self.request.accept_multiple

    @property
    def accepts_links(self) -> bool:
        types = self.request.accept_types
        return not types or RESOURCE_LINK in types


def open_request(db: Session, public_id: str, account: Account | None) -> Picker:
    """The waiting request, if this account launched it and may still use it: 404 when
    unknown or expired, 403 for anyone but its instructor."""
    request = load_deep_link(db, public_id)  # NotFoundError when unknown or expired
    if account is None or account.user_id != request.user_id:
        raise ForbiddenError("only the instructor who opened this from the LMS may pick content")
    course = db.get(Course, request.course_id) if request.course_id is not None else None
    if course is not None and not allows(
        roles_in(db, course.id, account.user_id, admin=account.is_admin), account, "content:view"
    ):
        raise ForbiddenError("picking content needs the content:view permission in the course")
    platform = db.get(LtiPlatform, request.platform_id)
    if platform is None or not platform.active:
        raise NotFoundError("the platform of this request is no longer registered")
    return Picker(request, platform, course, choices(db, course))


def choices(db: Session, course: Course | None) -> list[Choice]:
    """The course's open assignments, its own practice set, and the shipped topics' practice."""
    found: list[Choice] = []
    if course is not None:
        assignments = db.scalars(
            select(Assignment)
            .where(Assignment.course_id == course.id, Assignment.archived_at.is_(None))
            .order_by(Assignment.created_at, Assignment.id)
        )
        found += [
            Choice(f"assignment:{a.public_id}", a.title, "assignment", True, a.public_id)
            for a in assignments
        ]
        own = db.scalar(
            select(TopicRow).where(TopicRow.course_id == course.id, TopicRow.retired_at.is_(None))
        )
        if own is not None:
            found.append(
                Choice(f"practice:{own.slug}", own.title, "course practice", False, own.slug)
            )
    shipped = db.scalars(
        select(TopicRow)
        .where(TopicRow.course_id.is_(None), TopicRow.retired_at.is_(None))
        .order_by(TopicRow.category, TopicRow.title)
    )
    found += [Choice(f"practice:{t.slug}", t.title, "practice", False, t.slug) for t in shipped]
    return found


def picked(picker: Picker, targets: list[str]) -> list[Choice]:
    """The chosen items, in the page's order: 422 for a target not offered, or several when
    the platform accepts one."""
    offered = {c.target: c for c in picker.choices}
    unknown = [t for t in targets if t not in offered]
    if unknown:
        raise AppError(f"not something this page offers: {', '.join(unknown)}", field="item")
    if len(set(targets)) > 1 and not picker.multiple:
        raise AppError("the LMS accepts one item here: pick one", field="item")
    wanted = set(targets)
    return [c for c in picker.choices if c.target in wanted]


def content_item(choice: Choice, launch_url: str, *, line_item: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": RESOURCE_LINK,
        "title": choice.title,
        "url": launch_url,
        "custom": {"target": choice.target},
    }
    if choice.graded and line_item:
        item["lineItem"] = {
            "scoreMaximum": SCORE_MAXIMUM,
            "label": choice.title,
            "resourceId": choice.resource_id,
            "tag": TAG,
        }
    return item


def response_jwt(
    db: Session, picker: Picker, items: list[dict[str, Any]], now: float | None = None
) -> str:
    """The LtiDeepLinkingResponse, signed with our current key (its kid in the header)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": picker.platform.client_id,
        "aud": picker.platform.issuer,
        "iat": issued,
        "exp": issued + RESPONSE_LIFETIME,
        "nonce": secrets.token_urlsafe(16),
        LTI + "deployment_id": picker.request.deployment_id,
        LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": "1.3.0",
        DL + "content_items": items,
    }
    if "data" in picker.request.settings:
        claims[DL + "data"] = picker.request.settings["data"]
    if not items:
        claims[DL + "msg"] = "Nothing was picked."
    return current_key(db).sign(claims)


def respond(
    db: Session, public_id: str, account: Account | None, targets: list[str], launch_url: str
) -> tuple[str, str]:
    """The signed response for the chosen targets and where to post it; the request is used
    up (a second post would echo the platform's data twice)."""
    picker = open_request(db, public_id, account)
    if not picker.request.return_url:
        raise AppError("the LMS gave no deep_link_return_url: start again from the LMS")
    with_item = picker.request.accept_lineitem
    chosen = picked(picker, targets)
    items = [content_item(choice, launch_url, line_item=with_item) for choice in chosen]
    token = response_jwt(db, picker, items)
    db.execute(delete(LtiDeepLink).where(LtiDeepLink.public_id == public_id))
    return token, picker.request.return_url
