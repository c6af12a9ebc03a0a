"""The webhook API of a course: subscribe (the secret in that answer only), read, change,
pause, delete; each problem a 4xx naming it; only those who manage the course."""

from __future__ import annotations

import base64

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.webhooks.models import WebhookSubscription
from tests.courses.support import new_client, signed_in
from tests.webhooks.support import EVERY_EVENT, course, hooks_url, subscribe

RECEIVER = "https://lms.example.edu/hooks/torchquiz"


def test_an_owner_subscribes_and_gets_a_standard_webhooks_secret_once(
    app: FastAPI, db: Session
) -> None:
    klass = course(db)
    owner = signed_in(app, db, klass.owner)
    made = subscribe(owner, klass, RECEIVER, ["question.reported", "attempt.submitted"])
    assert made["url"] == RECEIVER and made["active"] is True
    assert made["events"] == ["attempt.submitted", "question.reported"]
    assert made["secret"].startswith("whsec_")
    assert len(base64.b64decode(made["secret"].removeprefix("whsec_"))) >= 24
    listed = owner.client.get(hooks_url(klass))
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()] == [made["id"]]
    one = owner.client.get(f"{hooks_url(klass)}/{made['id']}").json()
    assert "secret" not in one and "secret" not in listed.json()[0]


def test_a_webhook_is_changed_paused_and_deleted(app: FastAPI, db: Session) -> None:
    klass = course(db)
    owner = signed_in(app, db, klass.owner)
    made = subscribe(owner, klass, RECEIVER)
    url = f"{hooks_url(klass)}/{made['id']}"
    changed = owner.client.patch(url, json={"events": ["assignment.completed"], "active": False})
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["assignment.completed"]
    assert changed.json()["active"] is False and changed.json()["url"] == RECEIVER
    assert owner.client.delete(url).status_code == 204
    assert owner.client.get(url).status_code == 404
    assert db.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


def test_a_url_that_is_not_http_is_refused_with_422_naming_it(app: FastAPI, db: Session) -> None:
    klass = course(db)
    owner = signed_in(app, db, klass.owner)
    for bad in (
        "ftp://lms.example.edu/hook",
        "not a url",
        "https://",
        "javascript:alert(1)",
        "https://lms.example.edu/a b",
        "https://lms\x00.example.edu/",
        "https://lms.example.edu:99999/",
        "https://user:password@lms.example.edu/",
    ):
        body = {"url": bad, "events": EVERY_EVENT}
        refused = owner.client.post(hooks_url(klass), json=body)
        assert refused.status_code == 422, bad
        assert refused.json()["errors"][0]["field"] == "url", refused.json()
    made = subscribe(owner, klass, RECEIVER)
    patched = owner.client.patch(f"{hooks_url(klass)}/{made['id']}", json={"url": "file:///etc"})
    assert patched.status_code == 422
    assert db.scalar(select(WebhookSubscription.url)) == RECEIVER


def test_an_unknown_or_missing_event_is_refused_with_422(app: FastAPI, db: Session) -> None:
    klass = course(db)
    owner = signed_in(app, db, klass.owner)
    for events in (["grade.changed"], [], ["attempt.submitted", "attempt.deleted"]):
        refused = owner.client.post(hooks_url(klass), json={"url": RECEIVER, "events": events})
        assert refused.status_code == 422, events
        assert refused.json()["errors"][0]["field"].startswith("events")
    extra = owner.client.post(
        hooks_url(klass), json={"url": RECEIVER, "events": EVERY_EVENT, "secret": "mine"}
    )
    assert extra.status_code == 422
    assert db.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


def test_another_courses_webhook_is_unknown_here(app: FastAPI, db: Session) -> None:
    mine, theirs = course(db, "wh1"), course(db, "wh2")
    theirs_hook = subscribe(signed_in(app, db, theirs.owner), theirs, RECEIVER)
    owner = signed_in(app, db, mine.owner)
    url = f"{hooks_url(mine)}/{theirs_hook['id']}"
    assert owner.client.get(url).status_code == 404
    assert owner.client.patch(url, json={"active": False}).status_code == 404
    assert owner.client.delete(url).status_code == 404
    assert owner.client.get(url + "/deliveries").status_code == 404
    assert owner.client.post(url + "/test").status_code == 404
    assert db.scalar(select(WebhookSubscription.active)) is True


def test_a_learner_of_the_course_is_refused_with_403_and_a_stranger_with_401(
    app: FastAPI, db: Session
) -> None:
    klass = course(db)
    made = subscribe(signed_in(app, db, klass.owner), klass, RECEIVER)
    learner = signed_in(app, db, klass.learners[0])
    assert learner.client.get(hooks_url(klass)).status_code == 403
    body = {"url": RECEIVER, "events": EVERY_EVENT}
    refused = learner.client.post(hooks_url(klass), json=body)
    assert refused.status_code == 403 and "course:manage" in refused.json()["message"]
    assert learner.client.get(f"{hooks_url(klass)}/{made['id']}/deliveries").status_code == 403
    assert new_client(app).get(hooks_url(klass)).status_code == 401
    assert db.scalar(select(func.count()).select_from(WebhookSubscription)) == 1
