"""Assignment and Grade Services against the emulated LMS: the service token, line items found
or created, and grades passed back through the outbox after each submitted attempt."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.accounts.service import account_learner
from app.attempts.models import Assignment
from app.core.config import Settings
from app.learners.models import ExternalIdentity, Learner, User
from app.lti import ags
from app.lti.grades import LtiLineItem, LtiScore
from app.lti.keys import ToolKey, current_key
from app.lti.models import LtiContext
from app.lti.passback import next_timestamp
from tests.assignments.support import Class, make_class
from tests.courses.support import signed_in
from tests.gradebook.support import T0, fixed_assignment, sit
from tests.lti.conftest import TOOL, register
from tests.lti.emulator import AGS_SCOPES, LEARNER, Platform
from tests.lti.services_support import (
    drain,
    known_as,
    later,
    link_course,
    lms_fixture,  # noqa: F401 - the `lms` fixture
    messages,
    score_times,
)
from tests.lti.test_launch_refusals import login


def _setup(
    app: FastAPI, db: Session, lms: Platform, **link: Any
) -> tuple[Class, Assignment, Learner]:
    """A class of one learner, an assignment linked from the LMS, the learner known there."""
    group = make_class(db, learners=1, prefix="ags")
    assignment = fixed_assignment(db, app.state.catalog, group.course, title="Quiz 1")
    link_course(db, lms, group.course, f"assignment:{assignment.public_id}", **link)
    user = group.learners[0]
    known_as(db, lms, user, LEARNER.sub)
    return group, assignment, group.learner_of(db, user)


def _posts(lms: Platform, path_end: str = "/scores") -> list[int]:
    return [
        status
        for method, path, status in lms.requests
        if method == "POST" and path.endswith(path_end)
    ]


def _services(db: Session, lms: Platform, http: httpx.AsyncClient) -> ags.Services:
    platform = ags.Platform(1, lms.issuer, lms.client_id, lms.token_url)
    key = current_key(db)

    async def signer() -> ToolKey:
        return key

    return ags.Services(http, platform, signer)


def test_the_service_token_is_reused_until_thirty_seconds_before_it_expires(
    db: Session, lms: Platform
) -> None:
    async def twice() -> tuple[str, str]:
        async with httpx.AsyncClient(timeout=10) as http:
            services = _services(db, lms, http)
            scopes = [AGS_SCOPES["score"]]
            return await services.token(scopes), await services.token(scopes)

    first, second = asyncio.run(twice())
    assert first == second and lms.token_requests == 1

    ags.TOKENS.clear()
    lms.token_lifetime = 30  # expires within the 30 s margin: never reused
    first, second = asyncio.run(twice())
    assert first != second and lms.token_requests == 3
    assert not lms.errors


def test_a_401_from_a_service_drops_the_token_and_tries_once_more(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    _, assignment, learner = _setup(app, db, lms)
    lms.fail_next(1, status=401, on="scores")
    sit(db, app.state.catalog, assignment, learner, ["right"] * 4)

    drain(app, settings)

    assert _posts(lms) == [401, 204]
    assert lms.token_requests == 3  # lineitem scope, score scope, the score scope again
    assert [m.status for m in messages(db)] == ["delivered"]


def test_a_submitted_attempt_s_grade_arrives_at_the_lms_with_an_aware_utc_timestamp(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    _, assignment, learner = _setup(app, db, lms)
    sit(db, app.state.catalog, assignment, learner, ["right", "right", "right", "wrong"])
    assert len(messages(db)) == 1  # written with the attempt, sent by nobody yet
    assert lms.scores == []

    drain(app, settings)

    [score] = lms.scores
    assert score["userId"] == LEARNER.sub
    assert (score["scoreGiven"], score["scoreMaximum"]) == (75.0, 100)
    assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
    moment = datetime.fromisoformat(score["timestamp"])
    assert moment.utcoffset() == timedelta(0) and score["timestamp"].endswith("+00:00")
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=30)
    [item] = lms.line_items.values()
    assert item["label"] == "Quiz 1" and item["resourceLinkId"] == "link-1"
    assert (item["scoreMaximum"], item["tag"]) == (100, "torchquiz")
    assert score["lineitem"] == item["id"]
    assert [m.status for m in messages(db)] == ["delivered"]
    row = db.scalar(select(LtiScore))
    assert row is not None and (row.score, row.last_status, row.subject) == (75.0, 204, LEARNER.sub)


def test_two_quick_attempts_send_strictly_later_timestamps_to_one_line_item(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    _, assignment, learner = _setup(app, db, lms)
    catalog = app.state.catalog
    sit(db, catalog, assignment, learner, ["right", "wrong", "wrong", "wrong"])
    drain(app, settings)
    sit(db, catalog, assignment, learner, ["right"] * 4, start=T0 + timedelta(minutes=10))
    drain(app, settings)

    assert [s["scoreGiven"] for s in lms.scores] == [25.0, 100.0]
    first, second = score_times(lms.scores)
    assert second >= first + timedelta(seconds=1)  # within one second: the next second
    assert len(lms.line_items) == 1  # created once, then reused
    assert _posts(lms, "/lineitems") == [201]
    assert not lms.errors


def test_a_grade_that_did_not_change_is_not_sent_again(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    _, assignment, learner = _setup(app, db, lms)
    catalog = app.state.catalog
    sit(db, catalog, assignment, learner, ["right", "right", "wrong", "wrong"])
    drain(app, settings)
    # A worse second attempt: the best attempt's grade (the final one) stays 50.
    sit(db, catalog, assignment, learner, ["wrong"] * 4, start=T0 + timedelta(minutes=10))
    drain(app, settings)

    assert [s["scoreGiven"] for s in lms.scores] == [50.0]
    assert [m.status for m in messages(db)] == ["delivered", "delivered"]


def test_open_edx_s_single_declared_line_item_is_posted_to_and_none_is_created(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    declared = lms.add_line_item(label="Problem 1", scoreMaximum=1)
    _, assignment, learner = _setup(app, db, lms, lineitem=declared["id"], lineitems=False)
    sit(db, app.state.catalog, assignment, learner, ["right"] * 4)

    drain(app, settings)

    [score] = lms.scores
    assert score["lineitem"] == declared["id"] and score["scoreGiven"] == 100.0
    assert list(lms.line_items.values()) == [declared]
    assert not [r for r in lms.requests if r[1] == "/lineitems"]  # never listed nor created
    item = db.scalar(select(LtiLineItem))
    assert item is not None and (item.url, item.created_by_us) == (declared["id"], False)


def test_a_line_item_url_with_a_query_gets_scores_before_its_query(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    declared = lms.add_line_item(label="Moodle item")
    url = declared["id"] + "?type_id=3"
    assert ags.scores_url(url) == declared["id"] + "/scores?type_id=3"
    _, assignment, learner = _setup(app, db, lms, lineitem=url)
    sit(db, app.state.catalog, assignment, learner, ["right"] * 4)

    drain(app, settings)

    assert [s["lineitem"] for s in lms.scores] == [declared["id"]]


def test_a_learner_outside_the_lms_course_is_refused_with_the_reason_and_not_retried(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    _, assignment, learner = _setup(app, db, lms)
    lms.enrolled.discard(LEARNER.sub)
    sit(db, app.state.catalog, assignment, learner, ["right"] * 4)

    drain(app, settings)
    drain(app, settings, clock=later(4000))
    drain(app, settings, clock=later(90_000))

    assert _posts(lms) == [400]  # once: a refusal is final
    [message] = messages(db)
    assert message.status == "refused" and message.last_status == 400
    assert "not in the course" in (message.last_error or "")
    row = db.scalar(select(LtiScore))
    assert row is not None and row.score is None and row.last_status == 400
    assert "not in the course" in (row.last_error or "")


def test_an_lms_answering_500_three_times_then_200_gets_the_grade_once(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    _, assignment, learner = _setup(app, db, lms)
    lms.fail_next(3, status=500, on="scores")
    sit(db, app.state.catalog, assignment, learner, ["right"] * 4)

    drain(app, settings)
    assert messages(db)[0].status == "pending"  # to be tried again after a backoff
    for hours in (1, 2, 3, 4):
        drain(app, settings, clock=later(3600 * hours + 60))

    assert _posts(lms) == [500, 500, 500, 204]
    assert [s["scoreGiven"] for s in lms.scores] == [100.0]
    [message] = messages(db)
    assert (message.status, message.attempts) == ("delivered", 4)


def test_a_409_for_the_timestamp_is_tried_again_with_a_later_one(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    _, assignment, learner = _setup(app, db, lms)
    lms.fail_next(1, status=409, on="scores")
    sit(db, app.state.catalog, assignment, learner, ["right"] * 4)

    drain(app, settings)
    refused_at = db.scalar(select(LtiScore.timestamp))
    drain(app, settings, clock=later(60))

    assert _posts(lms) == [409, 204]
    [arrived] = score_times(lms.scores)
    assert refused_at is not None
    assert arrived > refused_at.replace(tzinfo=UTC)


def test_the_next_timestamp_is_a_second_after_the_last_when_now_is_not_later() -> None:
    last = datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)
    assert next_timestamp(last, now=last.replace(microsecond=400_000)) == last + timedelta(
        seconds=1
    )
    assert next_timestamp(
        last, now=last + timedelta(seconds=7, microseconds=9)
    ) == last + timedelta(seconds=7)
    assert next_timestamp(None, now=last).tzinfo is UTC


def test_a_grade_set_by_hand_in_the_gradebook_is_sent_and_its_removal_too(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    group, assignment, learner = _setup(app, db, lms)
    sit(db, app.state.catalog, assignment, learner, ["right", "right", "wrong", "wrong"])
    drain(app, settings)
    owner = signed_in(app, db, group.owner)
    url = (
        f"/api/v1/courses/{group.course.slug}/assignments/{assignment.public_id}"
        f"/overrides/{learner.public_id}"
    )

    put = owner.client.put(url, json={"percent": 90, "reason": "regraded by hand"})
    assert put.status_code == 200, put.text
    drain(app, settings)
    removed = owner.client.request("DELETE", url, json={"reason": "back to the attempts"})
    assert removed.status_code == 200, removed.text
    drain(app, settings)

    assert [s["scoreGiven"] for s in lms.scores] == [50.0, 90.0, 50.0]
    assert score_times(lms.scores) == sorted(set(score_times(lms.scores)))  # strictly later


def test_a_learner_s_launch_then_attempt_sends_the_grade_to_the_link_the_launch_recorded(
    app: FastAPI, db: Session, settings: Settings, lms: Platform
) -> None:
    group = make_class(db, learners=0, prefix="ags-e2e")
    assignment = fixed_assignment(db, app.state.catalog, group.course, title="Launched quiz")
    lms.use_tool(TOOL)
    platform = register(db, lms)
    db.add(
        LtiContext(
            platform_id=platform.id,
            context_id=lms.context_id,
            course_id=group.course.id,
            title=lms.context_title,
        )
    )
    db.commit()
    browser = TestClient(app, base_url=TOOL, follow_redirects=False)  # no `with`: no start-up
    try:
        target = f"assignment:{assignment.public_id}"
        started = login(browser, lms, user=LEARNER, target=target, resource_link_id="week-2")
        form = lms.authorize(started.location)
        launched = browser.post(form.action, data={"id_token": form.id_token, "state": form.state})
    finally:
        browser.close()
    assert launched.status_code == 303, launched.text[:500]
    assert launched.headers["location"] == f"/assignments/{assignment.public_id}"
    user = db.scalar(
        select(User)
        .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
        .where(ExternalIdentity.subject == LEARNER.sub, ExternalIdentity.issuer == lms.issuer)
    )
    assert user is not None
    sit(db, app.state.catalog, assignment, account_learner(db, user), ["right"] * 4)

    drain(app, settings)

    [score] = lms.scores
    assert (score["userId"], score["scoreGiven"]) == (LEARNER.sub, 100.0)
    [item] = lms.line_items.values()
    assert (item["resourceLinkId"], item["label"]) == ("week-2", "Launched quiz")
