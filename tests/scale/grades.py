"""Grades in the load: a course with a graded assignment and a webhook subscribed to its
submitted attempts, set up through the API as its teacher would, and a real HTTP receiver in
this process (tests/outbox/receiver.py) that keeps every delivery. The simulated learners
(tests/scale/learners.py, `Graded`) take the assignment and submit it.

Webhooks rather than LTI AGS scores: an AGS score is one message per learner and link, a
pending one replaced by the next and the gradebook's best grade sent, so it cannot be counted
per attempt; and each learner would need an OIDC launch through the LMS emulator first. A
webhook is one message per submitted attempt, through the same outbox and deliverer loop.

Counted per attempt: queued (its `webhook` outbox row, written in the transaction that
submits it: exactly one) and delivered (the receiver's requests answered 2xx, signature
checked, by the attempt id in the body). Delivery is at least once (app/outbox/delivery.py: a
deliverer that dies between its post and recording it leaves its lease to lapse, and the
message goes again), so a delivery may repeat, always under the same webhook-id.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.outbox.receiver import Receiver, receiving
from tests.scale.cluster import Cluster
from tests.scale.learners import PASSWORD, Graded
from tests.webhooks.support import verified

QUESTIONS = ["birnn/birnn-main-advantage", "birnn/bidir-live-captioning-unsuitable"]
EVENT = "attempt.submitted"
# Past the lease of a deliverer killed mid-delivery (app.outbox.delivery.LEASE, 60 s), after
# which another replica sends its message again.
DRAIN_SECONDS = 90
TEACHER_ADDRESS = "10.250.0.1"


def _created(response: httpx.Response) -> Any:
    assert response.status_code == 201, f"{response.request.url}: {response.text}"
    return response.json()


def set_up(url: str, hook_url: str) -> tuple[Graded, str]:
    """Through the API: a teacher's account, a course, a graded assignment of two shipped
    questions (any number of attempts) and a webhook for `attempt.submitted` at `hook_url`;
    the assignment as the learners take it, and the webhook's signing secret."""
    headers = {"X-Forwarded-For": TEACHER_ADDRESS}
    with httpx.Client(base_url=f"{url}/api/v1", timeout=60, headers=headers) as teacher:
        account = {"email": "teacher@scale.example", "password": PASSWORD}
        _created(teacher.post("/account/sign-up", json=account))
        course = _created(teacher.post("/courses", json={"title": "Scale-out"}))
        slug = course["slug"]
        rules = {"sources": ["birnn"], "questions": QUESTIONS}
        body = {"title": "Graded under load", "rules": rules}
        assignment = _created(teacher.post(f"/courses/{slug}/assignments", json=body))
        body = {"url": hook_url, "events": [EVENT], "description": "the grades' receiver"}
        hook = _created(teacher.post(f"/courses/{slug}/webhooks", json=body))
    return Graded(course["join_code"], assignment["id"]), hook["secret"]


@dataclass
class Grades:
    """The graded assignment of a cluster and the receiver of its grades."""

    graded: Graded
    secret: str
    receiver: Receiver

    def refuse_next(self, count: int, status: int = 503) -> None:
        """The receiver answers the next `count` deliveries `status`, then 200 again."""
        with self.receiver.lock:
            self.receiver.script[:] = [status] * count + [200]

    def refused(self) -> int:
        with self.receiver.lock:
            return sum(1 for r in self.receiver.requests if r.answered >= 300)

    def delivered(self) -> dict[str, list[str]]:
        """Each attempt's deliveries the receiver accepted: their webhook-ids."""
        found: dict[str, list[str]] = defaultdict(list)
        for request in self.receiver.delivered:
            body = verified(self.secret, request)
            if body["type"] == EVENT:
                found[body["data"]["attempt"]["id"]].append(request.headers["webhook-id"])
        return found

    def counts(self, c: Cluster, submitted: set[str]) -> str:
        """Grades queued against delivered, for a report."""
        queued = queued_statuses(c)
        delivered = self.delivered()
        by_status = Counter(s for a in submitted for s in queued.get(a, []))
        repeated = sum(len(ids) - 1 for a, ids in delivered.items() if a in submitted)
        return (
            f"grades (webhook {EVENT}) of {len(submitted)} acknowledged submissions: queued "
            f"{sum(by_status.values())} {dict(by_status)}, delivered "
            f"{len(submitted & delivered.keys())}, delivered again (at least once): {repeated}; "
            f"receiver's refusals so far: {self.refused()}"
        )

    def assert_all_delivered(self, c: Cluster, submitted: set[str], report: str) -> None:
        """Each acknowledged submission's grade queued exactly once (the outbox row is written
        in its transaction) and, once the outbox has drained, delivered at least once (the
        outbox's promise), every repeat under the same webhook-id."""
        assert submitted, f"the load submitted no graded attempt\n{report}"
        drained(c)
        queued = queued_statuses(c)
        not_once = {a: queued.get(a) for a in submitted if len(queued.get(a, [])) != 1}
        assert not not_once, f"submissions not queued exactly once: {not_once}\n{report}"
        delivered = self.delivered()
        missing = sorted(submitted - delivered.keys())
        summary = self.counts(c, submitted)
        assert not missing, f"grades never delivered: {missing}\n{summary}\n{report}"
        mixed = {a: ids for a, ids in delivered.items() if len(set(ids)) != 1}
        assert not mixed, f"an attempt's deliveries under several webhook-ids: {mixed}"
        unknown = set(delivered) - set(queued)
        assert not unknown, f"deliveries of attempts the outbox never held: {unknown}"


def queued_statuses(c: Cluster) -> dict[str, list[str]]:
    """Each attempt's `attempt.submitted` outbox messages: their statuses."""
    rows = c.postgres.query(
        "SELECT payload->'body'->'data'->'attempt'->>'id', status FROM outbox "
        "WHERE kind = 'webhook' AND payload->'body'->>'type' = %s",
        EVENT,
    )
    found: dict[str, list[str]] = defaultdict(list)
    for attempt, status in rows:
        found[str(attempt)].append(str(status))
    return found


def drained(c: Cluster, timeout: float = DRAIN_SECONDS) -> None:
    """Until no webhook waits in the outbox (the replicas deliver in the background)."""
    deadline = time.monotonic() + timeout
    sql = "SELECT count(*) FROM outbox WHERE kind = 'webhook' AND status = 'pending'"
    while (pending := c.postgres.query(sql)[0][0]) != 0:
        assert time.monotonic() < deadline, f"{pending} webhooks still pending after {timeout} s"
        time.sleep(0.5)


@contextmanager
def grades(c: Cluster) -> Iterator[Grades]:
    """The cluster's graded course, its receiver listening until the end."""
    with receiving(200) as receiver:
        graded, secret = set_up(c.url, receiver.url)
        yield Grades(graded, secret, receiver)
