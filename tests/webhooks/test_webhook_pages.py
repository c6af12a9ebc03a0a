"""The webhook pages of a course: listed and linked from the course page, added with a form
(the secret shown once), a problem shown next to its field, changed, tested, replayed from
the delivery log and deleted; each form posts and redirects."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.outbox.models import OutboxMessage
from app.webhooks.models import WebhookSubscription
from tests.courses.support import Visitor, signed_in
from tests.outbox.receiver import receiving
from tests.webhooks.support import course, deliver_all, verified

RECEIVER = "https://lms.example.edu/hooks/torchquiz"


def posted(visitor: Visitor, url: str, data: dict[str, Any]) -> Any:
    """A form post whose fields may repeat (the events' checkboxes)."""
    return visitor.client.post(url, data={**data, "csrf_token": visitor.csrf})


def test_an_owner_adds_a_webhook_with_the_form_and_sees_its_secret_once(
    app: FastAPI, db: Session
) -> None:
    klass = course(db)
    owner = signed_in(app, db, klass.owner)
    base = f"/courses/{klass.course.slug}/webhooks"
    assert base in owner.client.get(f"/courses/{klass.course.slug}").text
    assert "This course has no webhook." in owner.client.get(base).text
    form = owner.client.get(base + "/new")
    assert form.status_code == 200 and 'name="events"' in form.text
    made = posted(owner, base, {"url": RECEIVER, "events": ["attempt.submitted"]})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    hook = db.scalar(select(WebhookSubscription))
    assert hook is not None and hook.events == ["attempt.submitted"]
    assert hook.secret in made.text and "shown this once" in made.text
    page = owner.client.get(f"{base}/{hook.public_id}")
    assert page.status_code == 200 and hook.secret not in page.text
    assert "Nothing sent yet." in page.text
    assert RECEIVER in owner.client.get(base).text


def test_a_bad_url_or_no_event_is_shown_next_to_its_field_and_nothing_is_added(
    app: FastAPI, db: Session
) -> None:
    klass = course(db)
    owner = signed_in(app, db, klass.owner)
    base = f"/courses/{klass.course.slug}/webhooks"
    refused = owner.form(base, {"url": "ftp://lms.example.edu/x"})
    assert refused.status_code == 422
    assert 'id="url-problem"' in refused.text and "http:// or https://" in refused.text
    assert 'id="events-problem"' in refused.text
    assert 'value="ftp://lms.example.edu/x"' in refused.text
    assert db.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


def test_a_webhook_is_changed_tested_replayed_and_deleted_from_its_page(
    app: FastAPI, db: Session
) -> None:
    klass = course(db)
    owner = signed_in(app, db, klass.owner)
    base = f"/courses/{klass.course.slug}/webhooks"
    with receiving(200) as receiver:
        posted(owner, base, {"url": receiver.url, "events": ["attempt.submitted"]})
        hook = db.scalar(select(WebhookSubscription))
        assert hook is not None
        page = f"{base}/{hook.public_id}"
        events = ["question.reported", "attempt.submitted"]
        saved = posted(owner, page, {"url": receiver.url, "events": events, "active": "on"})
        assert saved.status_code == 303 and saved.headers["location"].endswith("done=saved")
        db.expire_all()
        assert hook.events == ["attempt.submitted", "question.reported"] and hook.active
        tested = owner.form(page + "/test")
        assert tested.status_code == 303
        deliver_all(app)
        shown = owner.client.get(page)
        assert "webhook.test" in shown.text and "delivered" in shown.text
        message = db.scalar(select(OutboxMessage))
        assert message is not None
        replayed = owner.form(f"{page}/deliveries/{message.id}/replay")
        assert replayed.status_code == 303 and "done=replayed" in replayed.headers["location"]
        deliver_all(app)
        assert len(receiver.delivered) == 2
        assert verified(hook.secret, receiver.delivered[1])["type"] == "webhook.test"
        paused = posted(owner, page, {"url": receiver.url, "events": events})
        assert paused.status_code == 303
        db.expire_all()
        assert hook.active is False
    deleted = owner.form(page + "/delete")
    assert deleted.status_code == 303 and deleted.headers["location"].endswith("done=deleted")
    assert db.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


def test_a_learner_and_a_form_from_another_site_are_refused(app: FastAPI, db: Session) -> None:
    klass = course(db)
    base = f"/courses/{klass.course.slug}/webhooks"
    learner = signed_in(app, db, klass.learners[0])
    assert learner.client.get(base).status_code == 403
    refused = posted(learner, base, {"url": RECEIVER, "events": ["attempt.submitted"]})
    assert refused.status_code == 403
    owner = signed_in(app, db, klass.owner)
    forged = {"url": RECEIVER, "events": ["attempt.submitted"], "csrf_token": "0123abcd"}
    assert owner.client.post(base, data=forged).status_code == 403, "another site's form"
    assert db.scalar(select(func.count()).select_from(WebhookSubscription)) == 0
