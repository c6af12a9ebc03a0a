"""Simulated learners on httpx asyncio, for the fault tests and bench/scale_out.py: each one
practises (starts a session, fetches each question, answers it), runs snippets, now and
then trains a tiny model in the lab and, given a course's graded assignment (`Graded`), takes
it: signs up, joins the course, answers every question and submits, with a think time
between steps.

What a client of the real app does, and what the tests count on:
- every POST carries an `Idempotency-Key`, the same on each retry, so that a request the
  client sends again (its replica died, the database was down) is done once;
- a 502/503/504 or a dropped connection is tried again (after the Retry-After it gives)
  until `retry_seconds` have passed; a 429 is waited out (Retry-After) and tried again,
  except a lab run's (the learner goes on practising and tries the lab later);
- each learner has an address of its own (X-Forwarded-For, appended to by the proxy, which
  the replicas trust), as 200 learners behind 200 home routers would.

Counted: latencies per route (each answered attempt), statuses, retries and their reasons,
failures (a request that never got an answer, or got a status it should not have), the answers
acknowledged (their ids), snippet runs answered, lab runs accepted and finished, and the graded
attempts whose submission was acknowledged (their ids: tests/scale/grades.py follows each
one's grade out of the app).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

TOPIC = "birnn"
LAB_FINISHED = {"done", "failed", "stopped", "cancelled", "refused"}
RETRIED = {502, 503, 504}
PASSWORD = "scale-out-learner"  # every simulated account's (at least 10 characters)


@dataclass
class Mix:
    """What a learner does at each step (weights), and how long it thinks between steps."""

    answer: float = 0.65
    run: float = 0.2
    lab: float = 0.05
    grade: float = 0.1  # a step at the graded assignment, when the load is given one
    think_seconds: float = 2.0  # mean; each pause is uniform in [0.5, 1.5] times it
    retry_seconds: float = 30.0  # how long a request is tried again before it counts as failed
    lab_seconds: float = 90.0  # how long a learner follows a lab run before giving up on it


@dataclass(frozen=True)
class Graded:
    """A course's graded assignment the learners take: its join code and public id."""

    join_code: str
    assignment: str


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    retries: Counter[tuple[str, str]] = field(default_factory=Counter)
    samples: dict[tuple[str, int], str] = field(default_factory=dict)  # a body per status
    # Requests still refused with 429 and Retry-After when the client stopped trying: the
    # deliberate refusals of a full site, not failures.
    refused: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    acknowledged: set[int] = field(default_factory=set)  # answer ids a 2xx came back with
    answers_unacknowledged: int = 0  # answers never acknowledged (gave up retrying)
    runs_sent: int = 0
    runs_answered: int = 0  # 2xx with the run's result
    runs_refused: int = 0  # a 429 waited out past retry_seconds
    run_errors: list[str] = field(default_factory=list)  # results that are not a clean run
    labs_sent: int = 0
    labs_accepted: list[str] = field(default_factory=list)
    labs_refused: int = 0  # 429: queue full or a run already going (deliberate)
    labs_finished: dict[str, str] = field(default_factory=dict)  # id -> status seen last
    submitted: set[str] = field(default_factory=set)  # graded attempts acknowledged submitted
    attempts_unacknowledged: int = 0  # a graded attempt's step that never got its answer
    started: float = field(default_factory=time.monotonic)
    stop_at: float = float("inf")  # learners end the step they are in, then stop
    ended: float = 0.0

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def requests(self) -> int:
        return sum(self.statuses.values())


def learner_address(index: int) -> str:
    return f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"


async def call(
    client: httpx.AsyncClient,
    stats: Stats,
    route: str,
    method: str,
    url: str,
    mix: Mix,
    *,
    body: Any = None,
    wait_out_429: bool = True,
) -> httpx.Response | None:
    """The request until it is answered (anything but 502/503/504, or a 429 while
    `wait_out_429`), tried again with the same Idempotency-Key; None if it never was within
    `mix.retry_seconds` (counted as a failure)."""
    headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
    deadline = time.monotonic() + mix.retry_seconds
    last = ""
    while True:
        start = time.monotonic()
        pause, response, retry_after = 0.25, None, None
        try:
            response = await client.request(method, url, json=body, headers=headers)
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
            stats.retries[route, type(exc).__name__] += 1
        else:
            stats.statuses[route, response.status_code] += 1
            stats.samples.setdefault((route, response.status_code), response.text[:300])
            retry_after = response.headers.get("retry-after")
            pause = min(float(retry_after), 5.0) if retry_after else pause
            in_use = response.status_code == 409 and _code(response) == "idempotency_key_in_use"
            if response.status_code == 429 and not wait_out_429:
                return response
            if response.status_code not in RETRIED | {429} and not in_use:
                stats.latencies[route].append(time.monotonic() - start)
                return response
            last = f"{response.status_code} {response.text[:300]}"
            reason = "idempotency_key_in_use" if in_use else str(response.status_code)
            stats.retries[route, reason] += 1
            if response.status_code == 429 and not retry_after:
                stats.failures.append(f"{route}: 429 without Retry-After: {response.text[:200]}")
        if time.monotonic() + pause > deadline:
            if response is not None and response.status_code == 429 and retry_after:
                stats.refused[route] += 1  # deliberate: the site said when to come back
                return response
            stats.failures.append(f"{route}: no answer within {mix.retry_seconds:g} s: {last}")
            return None
        await asyncio.sleep(pause * random.uniform(0.8, 1.2))


def _code(response: httpx.Response) -> str | None:
    with contextlib.suppress(ValueError, AttributeError):
        return response.json().get("code")  # type: ignore[no-any-return]
    return None


def expect(stats: Stats, route: str, response: httpx.Response | None, *ok: int) -> bool:
    """Whether the answer is one of `ok`; a failure counted if it is another."""
    if response is None:
        return False
    if response.status_code in ok:
        return True
    if response.status_code != 429:  # a 429 left over is counted where it was waited out
        stats.failures.append(f"{route}: {response.status_code} {response.text[:300]}")
    return False


def an_answer(question: dict[str, Any]) -> Any:
    """A well-formed answer of the question's type (right or wrong does not matter here)."""
    kind = question["type"]
    labels = [option["label"] for option in question.get("options") or []]
    if kind == "single_choice":
        return random.choice(labels)
    if kind == "multiple_select":
        return random.sample(labels, k=random.randint(1, len(labels)))
    if kind == "numeric":
        return random.randint(0, 10)
    if kind == "tensor_shape":
        return "4, 7, 6"
    if kind == "code":
        return (question.get("starter") or "") + "\n# my attempt\n"
    return "bidirectional"


class Learner:
    def __init__(
        self, index: int, base_url: str, stats: Stats, mix: Mix, graded: Graded | None = None
    ) -> None:
        self.stats, self.mix, self.graded = stats, mix, graded
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers={"X-Forwarded-For": learner_address(index)},
            timeout=httpx.Timeout(60, connect=5),
        )
        self.session: dict[str, Any] | None = None
        self.position = 1
        self.lab_after = 0.0  # no lab run before then (after a refusal)
        # An account of its own for the graded assignment (each load its own: the learners'
        # indexes repeat from one test's load to the next).
        self.email = f"learner{index}-{uuid.uuid4().hex[:8]}@scale.example"
        self.enrolled = False

    async def run(self) -> None:
        try:
            await asyncio.sleep(random.uniform(0, self.mix.think_seconds))  # not all at once
            while time.monotonic() < self.stats.stop_at:
                await self.step()
                await asyncio.sleep(self.mix.think_seconds * random.uniform(0.5, 1.5))
        finally:
            await self.client.aclose()

    async def step(self) -> None:
        mix = self.mix
        grade = mix.grade if self.graded else 0.0
        weights = [mix.answer, mix.run, mix.lab, grade]
        action = random.choices(["answer", "run", "lab", "grade"], weights)[0]
        if action == "lab" and time.monotonic() >= self.lab_after:
            await self.train()
        elif action == "grade":
            await self.take_assignment()
        elif action == "run":
            await self.run_snippet()
        else:
            await self.answer()

    async def answer(self) -> None:
        stats, mix = self.stats, self.mix
        if self.session is None or self.position > self.session["total"]:
            body: dict[str, Any] = {"topic": TOPIC, "mode": "practice"}
            response = await call(
                self.client, stats, "POST /sessions", "POST", "/api/v1/sessions", mix, body=body
            )
            if not expect(stats, "POST /sessions", response, 201):
                return
            assert response is not None
            self.session, self.position = response.json(), 1
        base = f"/api/v1/sessions/{self.session['id']}"
        route = "GET /sessions/{id}/questions/{n}"
        response = await call(
            self.client, stats, route, "GET", f"{base}/questions/{self.position}", mix
        )
        if not expect(stats, route, response, 200):
            return
        assert response is not None
        question = response.json()["question"]
        body = {"position": self.position, "answer": an_answer(question)}
        route = "POST /sessions/{id}/answers"
        response = await call(self.client, stats, route, "POST", f"{base}/answers", mix, body=body)
        if expect(stats, route, response, 200):
            assert response is not None
            stats.acknowledged.add(response.json()["answer_id"])
            self.position += 1
        else:
            stats.answers_unacknowledged += 1

    async def enrol(self) -> bool:
        """An account of this learner's own (this client's cookie), then the course joined."""
        stats, mix, client = self.stats, self.mix, self.client
        assert self.graded is not None
        account = {"email": self.email, "password": PASSWORD}
        route = "POST /account/sign-up"
        response = await call(
            client, stats, route, "POST", "/api/v1/account/sign-up", mix, body=account
        )
        if response is not None and response.status_code == 409:
            # An earlier try made the account, and its answer was lost (a sign-up sets a
            # cookie, so it is never replayed): sign in to it instead.
            route = "POST /account/sign-in"
            path = "/api/v1/account/sign-in"
            response = await call(client, stats, route, "POST", path, mix, body=account)
            signed_in = expect(stats, route, response, 200)
        else:
            signed_in = expect(stats, route, response, 201)
        if not signed_in:
            return False
        self.session = None  # practice goes on in a session of the account's learner
        route, body = "POST /courses/join", {"code": self.graded.join_code}
        response = await call(client, stats, route, "POST", "/api/v1/courses/join", mix, body=body)
        self.enrolled = expect(stats, route, response, 200)
        return self.enrolled

    async def take_assignment(self) -> None:
        """An attempt at the graded assignment started (or the open one resumed), every
        question not yet saved answered, then submitted."""
        stats, mix, client = self.stats, self.mix, self.client
        assert self.graded is not None
        if not self.enrolled and not await self.enrol():
            stats.attempts_unacknowledged += 1
            return
        route, path = (
            "POST /assignments/{id}/attempts",
            f"/api/v1/assignments/{self.graded.assignment}/attempts",
        )
        response = await call(client, stats, route, "POST", path, mix)
        if not expect(stats, route, response, 200, 201):
            stats.attempts_unacknowledged += 1
            return
        assert response is not None
        attempt = response.json()
        base = f"/api/v1/sessions/{attempt['id']}"
        for position in range(1, attempt["total"] + 1):
            if position in attempt["answered_positions"]:
                continue
            route = "GET /sessions/{id}/questions/{n}"
            response = await call(client, stats, route, "GET", f"{base}/questions/{position}", mix)
            if not expect(stats, route, response, 200):
                stats.attempts_unacknowledged += 1
                return
            assert response is not None
            body = {"position": position, "answer": an_answer(response.json()["question"])}
            route = "POST /sessions/{id}/answers"
            response = await call(client, stats, route, "POST", f"{base}/answers", mix, body=body)
            if not expect(stats, route, response, 200):
                stats.attempts_unacknowledged += 1
                return
        route = "POST /sessions/{id}/finish"
        response = await call(client, stats, route, "POST", f"{base}/finish", mix)
        if expect(stats, route, response, 200):
            stats.submitted.add(attempt["id"])
        else:
            stats.attempts_unacknowledged += 1

    async def run_snippet(self) -> None:
        stats = self.stats
        n = random.randint(1, 1000)  # a new snippet each time: no cached result answers
        code = f"import torch\nx = torch.arange({n}.0).reshape(-1, 1)\nprint(x.shape, x.sum())"
        stats.runs_sent += 1
        response = await call(
            self.client, stats, "POST /runs", "POST", "/api/v1/runs", self.mix, body={"code": code}
        )
        if response is not None and response.status_code == 429:
            stats.runs_refused += 1
            return
        if expect(stats, "POST /runs", response, 200):
            assert response is not None
            result = response.json()
            stats.runs_answered += 1
            if not result["ok"] or f"torch.Size([{n}, 1])" not in result["stdout"]:
                stats.run_errors.append(json.dumps(result)[:300])

    async def train(self) -> None:
        stats = self.stats
        config = {
            "hidden_size": 4,
            "epochs": 2,
            "batch_size": 400,
            "seed": random.randint(0, 10**6),
        }
        stats.labs_sent += 1
        response = await call(
            self.client,
            stats,
            "POST /lab/runs",
            "POST",
            "/api/v1/lab/runs",
            self.mix,
            body={"config": config, "task": False},
            wait_out_429=False,
        )
        if response is not None and response.status_code == 429:
            stats.labs_refused += 1
            self.lab_after = time.monotonic() + float(response.headers.get("retry-after", 5))
            return
        if not expect(stats, "POST /lab/runs", response, 202):
            return
        assert response is not None
        run_id = response.json()["id"]
        stats.labs_accepted.append(run_id)
        stats.labs_finished[run_id] = response.json()["status"]
        await self.follow(run_id)

    async def follow(self, run_id: str) -> None:
        """The run's events until it ends (as the lab's page does), then its state; polled
        if the stream breaks (its replica died)."""
        stats, route = self.stats, "GET /lab/runs/{id}/events"
        deadline = time.monotonic() + self.mix.lab_seconds
        with contextlib.suppress(httpx.HTTPError):
            start = time.monotonic()
            async with self.client.stream("GET", f"/api/v1/lab/runs/{run_id}/events") as events:
                stats.statuses[route, events.status_code] += 1
                async for line in events.aiter_lines():
                    if line.startswith("data: {") and '"status"' in line:
                        stats.labs_finished[run_id] = json.loads(line[6:])["status"]
                    if time.monotonic() > deadline:
                        break
                stats.latencies[route].append(time.monotonic() - start)
        route = "GET /lab/runs/{id}"
        while stats.labs_finished[run_id] not in LAB_FINISHED and time.monotonic() < deadline:
            response = await call(
                self.client, stats, route, "GET", f"/api/v1/lab/runs/{run_id}", self.mix
            )
            if expect(stats, route, response, 200):
                assert response is not None
                stats.labs_finished[run_id] = response.json()["status"]
            await asyncio.sleep(1)


async def load(
    base_url: str,
    learners: int,
    seconds: float,
    mix: Mix,
    stats: Stats | None = None,
    first: int = 0,
    graded: Graded | None = None,
) -> Stats:
    """`learners` learners for `seconds` against `base_url`, taking the `graded` assignment
    too if given; each ends the step it is in."""
    stats = stats or Stats()
    stats.started = time.monotonic()
    stats.stop_at = min(stats.stop_at, stats.started + seconds)
    crowd = [Learner(first + i, base_url, stats, mix, graded) for i in range(learners)]
    await asyncio.gather(*(learner.run() for learner in crowd))
    stats.ended = time.monotonic()
    return stats


class Background:
    """A load in a thread of its own, while a test breaks things: `stop()` ends it early and
    returns its counts."""

    def __init__(
        self,
        base_url: str,
        learners: int,
        mix: Mix,
        seconds: float = 600,
        graded: Graded | None = None,
    ) -> None:
        self.stats = Stats()
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[Stats] | None = None
        self._args = (base_url, learners, seconds, mix, self.stats, 0, graded)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(load(*self._args))
        try:
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(self._task)
        finally:
            self._loop.close()

    def stop(self, grace: float = 60) -> Stats:
        """Ends the load at the learners' next step (each finishes the request it is in)."""
        self.stats.stop_at = time.monotonic()
        self._thread.join(timeout=grace)
        assert not self._thread.is_alive(), "the load did not stop: a request hangs"
        self.stats.ended = self.stats.ended or time.monotonic()
        return self.stats


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def table(stats: Stats) -> str:
    """Per route: answered requests a second, p50 and p99 in ms, and each status's count."""
    lines = [f"{'route':34} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses"]
    routes = sorted({route for route, _ in stats.statuses})
    for route in routes:
        times = stats.latencies.get(route, [])
        statuses = " ".join(
            f"{status}:{count}"
            for (r, status), count in sorted(stats.statuses.items())
            if r == route
        )
        lines.append(
            f"{route:34} {len(times) / stats.seconds:7.1f} {percentile(times, 0.5) * 1000:8.0f}"
            f" {percentile(times, 0.99) * 1000:8.0f}  {statuses}"
        )
    total = sum(len(t) for t in stats.latencies.values())
    lines.append(f"{'all':34} {total / stats.seconds:7.1f}")
    return "\n".join(lines)


def outcomes(stats: Stats) -> str:
    retries = ", ".join(f"{route} {why}: {n}" for (route, why), n in sorted(stats.retries.items()))
    labs = Counter(stats.labs_finished.values())
    return "\n".join(
        [
            f"failed requests: {len(stats.failures)}; refused 429 with Retry-After after "
            f"waiting it out: {dict(stats.refused) or 'none'}",
            *(f"  {failure}" for failure in stats.failures[:10]),
            f"retries (same Idempotency-Key): {retries or 'none'}",
            f"answers acknowledged: {len(stats.acknowledged)}, "
            f"never acknowledged: {stats.answers_unacknowledged}",
            f"snippet runs sent: {stats.runs_sent}, answered: {stats.runs_answered}, "
            f"refused 429 past the retry time: {stats.runs_refused}, "
            f"answered with an unexpected result: {len(stats.run_errors)}",
            *(f"  {error}" for error in stats.run_errors[:5]),
            f"lab runs sent: {stats.labs_sent}, accepted: {len(stats.labs_accepted)}, "
            f"refused 429: {stats.labs_refused}, last seen: {dict(labs)}",
            f"graded attempts acknowledged submitted: {len(stats.submitted)}, "
            f"given up at a step: {stats.attempts_unacknowledged}",
            *(
                f"  a {status} of {route}: {body[:200]}"
                for (route, status), body in sorted(stats.samples.items())
                if status >= 400
            ),
        ]
    )
