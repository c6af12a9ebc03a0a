"""The outbox on both databases: retries with backoff until the receiver takes a message,
exactly once; a refusal kept and never retried; dead after the stated number of tries; a
crashed deliverer's lease running out; messages no deliverer knows left waiting; a stale
pending message replaced. The receiver is a real HTTP server; the clock is moved, never
slept through."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.db import as_utc
from app.outbox import service
from app.outbox.delivery import MAX_TRIES, Outbox, Retry, backoff_seconds, register
from app.outbox.models import OutboxMessage, OutboxTry
from tests.in_thread import run_coroutine
from tests.outbox.receiver import receiving
from tests.outbox.support import KIND, Clock, isolated_database, outbox_on

HOURS = 3600.0


def fresh(db: Session, message: OutboxMessage) -> OutboxMessage:
    db.expire_all()
    found = db.get(OutboxMessage, message.id)
    assert found is not None
    return found


def tries_of(db: Session, message: OutboxMessage) -> list[OutboxTry]:
    query = select(OutboxTry).where(OutboxTry.message_id == message.id).order_by(OutboxTry.id)
    return list(db.scalars(query))


def drains(app: FastAPI, clock: Clock, steps: list[float], **options: Any) -> list[int]:
    """Drain once per step, moving the clock by the step's seconds before each; how many
    tries each drain made."""

    async def scenario() -> list[int]:
        outbox = outbox_on(app, clock, **options)
        made = []
        try:
            for step in steps:
                clock.advance(step)
                made.append(await outbox.drain())
        finally:
            await outbox.stop()
        return made

    return run_coroutine(scenario)


def test_a_receiver_failing_three_times_gets_the_message_once_after_the_backoff(
    app: FastAPI, db: Session
) -> None:
    clock = Clock()
    with receiving(500, 500, 500, 200) as receiver:
        message = service.enqueue(db, KIND, {"url": receiver.url, "grade": 87.5})
        # At once; again at once (the backoff holds it); then each time the backoff is over.
        made = drains(app, clock, [0, 0, HOURS, 0, HOURS, HOURS, HOURS])
        assert made == [1, 0, 1, 0, 1, 1, 0]
        assert [r.answered for r in receiver.requests] == [500, 500, 500, 200]
        assert len(receiver.delivered) == 1 and receiver.delivered[0].json()["grade"] == 87.5
    done = fresh(db, message)
    assert done.status == "delivered" and done.attempts == 4 and done.last_status == 200
    assert done.delivered_at is not None and done.leased_until is None and done.last_error is None
    tries = tries_of(db, message)
    assert [(t.outcome, t.status) for t in tries] == [("retry", 500)] * 3 + [("delivered", 200)]
    assert tries[0].error == "answered 500"


def test_a_retry_waits_two_to_the_tries_seconds_with_jitter_capped_at_an_hour(
    app: FastAPI, db: Session
) -> None:
    assert backoff_seconds(1, lambda: 1.0) == 2 and backoff_seconds(3, lambda: 0.0) == 4
    assert backoff_seconds(20, lambda: 1.0) == 3600, "capped"
    clock = Clock()
    with receiving(503) as receiver:
        message = service.enqueue(db, KIND, {"url": receiver.url})
        drains(app, clock, [0, 0, 0], rng=lambda: 1.0)
        first = fresh(db, message)
        assert first.attempts == 1
        assert (as_utc(first.next_attempt_at) - clock.now).total_seconds() == 2
        drains(app, clock, [1.9])  # not yet due
        assert fresh(db, message).attempts == 1
        drains(app, clock, [0.2, 4.1], rng=lambda: 1.0)  # due after 2 s, then after 4 s more
        assert fresh(db, message).attempts == 3


def test_a_refused_message_is_kept_with_its_reason_and_never_tried_again(
    app: FastAPI, db: Session
) -> None:
    clock = Clock()
    with receiving(422) as receiver:
        message = service.enqueue(db, KIND, {"url": receiver.url})
        assert drains(app, clock, [0, HOURS, 24 * HOURS]) == [1, 0, 0]
        assert len(receiver.requests) == 1
    refused = fresh(db, message)
    assert refused.status == "refused" and refused.last_status == 422
    assert refused.last_error == "the receiver refused it" and refused.attempts == 1


def test_a_message_is_dead_after_the_stated_number_of_tries(app: FastAPI, db: Session) -> None:
    clock = Clock()
    with receiving(500) as receiver:
        message = service.enqueue(db, KIND, {"url": receiver.url})
        made = drains(app, clock, [0] + [HOURS] * (MAX_TRIES + 2))
        assert sum(made) == MAX_TRIES == len(receiver.requests) == 12
    dead = fresh(db, message)
    assert dead.status == "dead" and dead.attempts == MAX_TRIES and dead.last_status == 500
    assert tries_of(db, message)[-1].outcome == "dead"


def test_a_lease_left_by_a_crashed_deliverer_runs_out_and_the_message_goes_again(
    app: FastAPI, db: Session
) -> None:
    clock = Clock()
    with receiving(200) as receiver:
        message = service.enqueue(db, KIND, {"url": receiver.url})
        # Another process leased it, then died before recording anything.
        held_until = clock.now + timedelta(seconds=30)
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(leased_until=held_until)
        )
        db.flush()
        assert drains(app, clock, [0, 29]) == [0, 0], "held while the lease runs"
        assert drains(app, clock, [2]) == [1]
        assert len(receiver.delivered) == 1
    assert fresh(db, message).status == "delivered"


def test_a_kind_without_a_deliverer_waits_pending(app: FastAPI, db: Session) -> None:
    clock = Clock()
    message = service.enqueue(db, "nobody.delivers", {"x": 1})
    assert drains(app, clock, [0, HOURS]) == [0, 0]
    waiting = fresh(db, message)
    assert waiting.status == "pending" and waiting.attempts == 0


def test_a_deliverer_that_raises_counts_as_a_retry(app: FastAPI, db: Session) -> None:
    async def broken(_context: Any, _payload: dict[str, Any]) -> Any:
        raise ValueError("no such line item")

    register("test.broken", broken)
    clock = Clock()
    message = service.enqueue(db, "test.broken", {})
    drains(app, clock, [0])
    failed = fresh(db, message)
    assert failed.status == "pending" and failed.attempts == 1
    assert failed.last_error == "ValueError: no such line item"


def test_a_retry_after_from_the_deliverer_sets_the_next_try(app: FastAPI, db: Session) -> None:
    async def later(_context: Any, _payload: dict[str, Any]) -> Retry:
        return Retry("rate limited", status=429, after=120)

    register("test.later", later)
    clock = Clock()
    message = service.enqueue(db, "test.later", {})
    drains(app, clock, [0])
    waiting = fresh(db, message)
    assert (as_utc(waiting.next_attempt_at) - clock.now).total_seconds() == 120
    assert waiting.last_status == 429


def test_replace_pending_updates_the_waiting_message_instead_of_adding_one(
    app: FastAPI, db: Session
) -> None:
    first = service.enqueue(db, "nobody.delivers", {"score": 1}, key="k1", replace_pending=True)
    second = service.enqueue(db, "nobody.delivers", {"score": 2}, key="k1", replace_pending=True)
    other = service.enqueue(db, "nobody.delivers", {"score": 3}, key="k2", replace_pending=True)
    assert second.id == first.id and other.id != first.id
    assert fresh(db, first).payload == {"score": 2}
    keys = db.scalars(select(OutboxMessage.key).where(OutboxMessage.kind == "nobody.delivers"))
    assert sorted(k or "" for k in keys) == ["k1", "k2"]


def test_replay_adds_a_pending_copy_of_a_delivered_message(app: FastAPI, db: Session) -> None:
    clock = Clock()
    with receiving(200) as receiver:
        message = service.enqueue(db, KIND, {"url": receiver.url, "n": 7}, key="msg_1")
        drains(app, clock, [0])
        copy = service.replay(db, message.id)
        assert copy.id != message.id and copy.status == "pending" and copy.attempts == 0
        assert copy.key == "msg_1" and copy.payload == message.payload
        drains(app, clock, [0])
        assert [r.json()["n"] for r in receiver.delivered] == [7, 7]


def test_the_delivery_log_lists_a_courses_messages_newest_first_paged(
    app: FastAPI, db: Session
) -> None:
    made = [service.enqueue(db, "nobody.delivers", {"n": n}) for n in range(5)]
    rows, total = service.messages(db, kind="nobody.delivers", limit=2, offset=1)
    assert total == 5 and [r.id for r in rows] == [made[3].id, made[2].id]


def test_an_outbox_that_was_stopped_can_stop_again(app: FastAPI) -> None:
    async def twice() -> None:
        outbox = Outbox(isolated_database(app), app.state.settings)
        await outbox.start()
        await outbox.stop()
        await outbox.stop()

    run_coroutine(twice)
