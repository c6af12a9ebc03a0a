"""Webhooks delivered to a real receiver: a submitted attempt, a completed assignment and a
reported question each reach the course's subscribers, signed per Standard Webhooks (checked
by hand, apart from the library that signs); retries keep the webhook-id; 410 switches a
webhook off; the delivery log, its replay and a test ping; no private address in production."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.outbox.delivery import DeliveryContext, Refused
from app.outbox.models import OutboxMessage
from app.webhooks import sender
from app.webhooks.models import WebhookSubscription
from tests.assignments.support import attempt, make_assignment
from tests.courses.support import Visitor, signed_in
from tests.in_thread import run_coroutine
from tests.outbox.receiver import receiving
from tests.outbox.support import Clock, isolated_database
from tests.reports.support import file, staffed_course
from tests.webhooks.support import course, deliver_all, hooks_url, subscribe, verified

HOURS = 3600.0


def finish(visitor: Visitor, session_id: str) -> None:
    done = visitor.client.post(f"/api/v1/sessions/{session_id}/finish")
    assert done.status_code == 200, done.text


def test_a_submitted_attempt_and_the_last_allowed_one_reach_the_receiver_signed(
    app: FastAPI, db: Session
) -> None:
    klass = course(db)
    catalog = app.state.catalog
    assignment = make_assignment(db, catalog, klass.course, attempts_allowed=2)
    learner_user = klass.learners[0]
    learner = klass.learner_of(db, learner_user)
    visitor = signed_in(app, db, learner_user)
    with receiving(200) as receiver:
        hook = subscribe(signed_in(app, db, klass.owner), klass, receiver.url)
        first = attempt(db, catalog, assignment, learner, seed=1)
        finish(visitor, first.public_id)
        deliver_all(app)
        bodies = [verified(hook["secret"], r) for r in receiver.delivered]
        assert [b["type"] for b in bodies] == ["attempt.submitted"]
        data = bodies[0]["data"]
        assert data["course"] == klass.course.slug
        assert data["assignment"] == {"id": assignment.public_id, "title": "Homework 1"}
        assert data["learner"] == {"id": learner.public_id, "external_ids": []}
        assert data["attempt"]["id"] == first.public_id and data["attempt"]["number"] == 1
        assert data["attempt"]["questions"] == 4 and data["attempt"]["score"] == 0.0
        assert bodies[0]["timestamp"].endswith("Z")

        second = attempt(db, catalog, assignment, learner, seed=2)
        finish(visitor, second.public_id)
        deliver_all(app)
        later = [verified(hook["secret"], r) for r in receiver.delivered[1:]]
        assert sorted(b["type"] for b in later) == ["assignment.completed", "attempt.submitted"]
        completed = next(b["data"] for b in later if b["type"] == "assignment.completed")
        assert completed["attempts"] == 2 and completed["attempts_allowed"] == 2
        assert completed["final_grade"] == 0.0 and completed["learner"]["id"] == learner.public_id
        ids = [r.headers["webhook-id"] for r in receiver.delivered]
        assert len(set(ids)) == 3 and all(i.startswith("msg_") for i in ids)
        assert receiver.delivered[0].headers["user-agent"] == "torchquiz"
        assert receiver.delivered[0].headers["content-type"] == "application/json"


def test_unlimited_attempts_never_complete_and_unasked_events_are_not_sent(
    app: FastAPI, db: Session
) -> None:
    klass = course(db)
    catalog = app.state.catalog
    assignment = make_assignment(db, catalog, klass.course)  # any number of attempts
    learner = klass.learner_of(db, klass.learners[0])
    with receiving(200) as receiver:
        owner = signed_in(app, db, klass.owner)
        subscribe(owner, klass, receiver.url, ["attempt.submitted", "assignment.completed"])
        reports_only = subscribe(owner, klass, receiver.url + "/reports", ["question.reported"])
        paused = subscribe(owner, klass, receiver.url + "/paused", ["attempt.submitted"])
        owner.client.patch(f"{hooks_url(klass)}/{paused['id']}", json={"active": False})
        done = attempt(db, catalog, assignment, learner)
        finish(signed_in(app, db, klass.learners[0]), done.public_id)
        deliver_all(app)
        assert [(r.path, r.json()["type"]) for r in receiver.delivered] == [
            ("/hook", "attempt.submitted")
        ]
    assert reports_only["events"] == ["question.reported"]


def test_a_reported_question_reaches_the_courses_receiver(app: FastAPI, db: Session) -> None:
    staffed = staffed_course(db, prefix="whr")
    with receiving(200) as receiver:
        owner = signed_in(app, db, staffed.klass.owner)
        hook = subscribe(owner, staffed.klass, receiver.url, ["question.reported"])
        filed = file(staffed.learner(app, db), staffed.session.public_id, text="Key is off")
        assert filed.status_code == 201
        deliver_all(app)
        (body,) = [verified(hook["secret"], r) for r in receiver.delivered]
    assert body["type"] == "question.reported"
    assert body["data"]["question"]["slug"] == "reported-question"
    assert body["data"]["report"]["id"] == filed.json()["id"]
    assert body["data"]["report"]["text"] == "Key is off"
    assert body["data"]["report"]["kind"] == "answer_wrong"


def test_a_failing_receiver_gets_the_same_webhook_id_until_it_takes_it_once(
    app: FastAPI, db: Session
) -> None:
    klass = course(db)
    clock = Clock()
    with receiving(500, 502, 503, 200) as receiver:
        hook = subscribe(signed_in(app, db, klass.owner), klass, receiver.url)
        test = signed_in(app, db, klass.owner).client.post(f"{hooks_url(klass)}/{hook['id']}/test")
        assert test.status_code == 201
        for _ in range(5):
            deliver_all(app, clock, advance=HOURS)
        assert [r.answered for r in receiver.requests] == [500, 502, 503, 200]
        assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
        (taken,) = receiver.delivered
        assert verified(hook["secret"], taken)["type"] == "webhook.test"
    log = signed_in(app, db, klass.owner).client.get(f"{hooks_url(klass)}/{hook['id']}/deliveries")
    (delivery,) = log.json()["items"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4
    assert [t["status"] for t in delivery["tries"]] == [500, 502, 503, 200]
    assert delivery["webhook_id"] == taken.headers["webhook-id"]


def test_410_gone_switches_the_webhook_off_and_is_not_retried(app: FastAPI, db: Session) -> None:
    klass = course(db)
    clock = Clock()
    with receiving(410) as receiver:
        owner = signed_in(app, db, klass.owner)
        hook = subscribe(owner, klass, receiver.url)
        owner.client.post(f"{hooks_url(klass)}/{hook['id']}/test")
        deliver_all(app, clock)
        deliver_all(app, clock, advance=24 * HOURS)
        assert len(receiver.requests) == 1
    db.expire_all()
    assert db.scalar(select(WebhookSubscription.active)) is False
    message = db.scalar(select(OutboxMessage))
    assert message is not None and message.status == "refused" and message.last_status == 410
    assert message.last_error is not None
    assert message.last_error.startswith("410 Gone: refused with 410 (the receiver is gone")


def test_a_replay_sends_the_same_id_and_body_again_signed_anew(app: FastAPI, db: Session) -> None:
    klass = course(db)
    with receiving(200) as receiver:
        owner = signed_in(app, db, klass.owner)
        hook = subscribe(owner, klass, receiver.url)
        base = f"{hooks_url(klass)}/{hook['id']}"
        owner.client.post(base + "/test")
        deliver_all(app)
        (first,) = owner.client.get(base + "/deliveries").json()["items"]
        replayed = owner.client.post(f"{base}/deliveries/{first['id']}/replay")
        assert replayed.status_code == 201, replayed.text
        assert replayed.json()["webhook_id"] == first["webhook_id"]
        assert replayed.json()["status"] == "pending" and replayed.json()["id"] != first["id"]
        deliver_all(app)
        once, again = receiver.delivered
        assert again.headers["webhook-id"] == once.headers["webhook-id"]
        assert again.body == once.body
        assert verified(hook["secret"], again) == verified(hook["secret"], once)
        log = owner.client.get(base + "/deliveries", params={"limit": 1}).json()
        assert log["total"] == 2 and [d["id"] for d in log["items"]] == [replayed.json()["id"]]
        assert owner.client.post(f"{base}/deliveries/999999/replay").status_code == 404


def test_another_webhooks_delivery_cannot_be_replayed_through_this_one(
    app: FastAPI, db: Session
) -> None:
    klass = course(db)
    owner = signed_in(app, db, klass.owner)
    one = subscribe(owner, klass, "https://a.example.org/hook")
    other = subscribe(owner, klass, "https://b.example.org/hook")
    sent = owner.client.post(f"{hooks_url(klass)}/{one['id']}/test").json()
    refused = owner.client.post(f"{hooks_url(klass)}/{other['id']}/deliveries/{sent['id']}/replay")
    assert refused.status_code == 404 and refused.json()["field"] == "message"


def test_a_deleted_webhooks_waiting_deliveries_are_dropped(app: FastAPI, db: Session) -> None:
    klass = course(db)
    with receiving(200) as receiver:
        owner = signed_in(app, db, klass.owner)
        hook = subscribe(owner, klass, receiver.url)
        owner.client.post(f"{hooks_url(klass)}/{hook['id']}/test")
        owner.client.delete(f"{hooks_url(klass)}/{hook['id']}")
        deliver_all(app)
        assert receiver.requests == []
    db.expire_all()
    message = db.scalar(select(OutboxMessage))
    assert message is not None and message.status == "refused"
    assert message.last_error == "the webhook was deleted"


def test_in_production_a_private_address_is_refused_at_delivery(app: FastAPI, db: Session) -> None:
    klass = course(db)
    production = app.state.settings.model_copy(update={"environment": "production"})
    with receiving(200) as receiver:
        hook = subscribe(signed_in(app, db, klass.owner), klass, receiver.url)
        payload: dict[str, Any] = {"subscription": hook["id"], "body": {"type": "webhook.test"}}

        async def deliver() -> Any:
            async with httpx.AsyncClient() as http:
                context = DeliveryContext(isolated_database(app), http, production, key="msg_1")
                return await sender.deliver(context, payload)

        outcome = run_coroutine(deliver)
        assert receiver.requests == []
    assert isinstance(outcome, Refused)
    assert "127.0.0.1" in outcome.error and "non-public" in outcome.error
