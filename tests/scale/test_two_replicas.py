"""Two replicas behind nginx, on a PostgreSQL and a Redis of their own, with two code runners
taking jobs from the Redis queue, as docs/deploying.md has it (tests/scale/cluster.py), under
a small load of simulated learners (tests/scale/learners.py) while parts die: an app replica
(kill -9), PostgreSQL and Redis (restarted), a runner (kill -9 mid-run), the receiver of the
grades (refusing for a while). Nothing a client was told is stored may be lost, the grade of
every submission acknowledged must reach its receiver (tests/scale/grades.py), no request may
hang or answer 500, and the site comes back by itself. Last, schemathesis against the proxy:
no 5xx, every response as the OpenAPI document says.

One cluster for the module (started once: some 20 s on an idle machine, a minute or two
beside a busy suite); each test leaves it whole again."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.hardening.support import bounded
from tests.scale.cluster import Cluster, Postgres, Redis, Replica, cluster
from tests.scale.grades import Grades, grades
from tests.scale.learners import RETRIED, Background, Mix, Stats, outcomes, table

LEARNERS = 15
EXAMPLES = 2  # schemathesis's examples per operation: some 250 requests in all
# Clients try a request again for 35 s: past a held Idempotency-Key's lapse (20 s).
MIX = Mix(answer=0.8, run=0.2, lab=0.0, grade=0.1, think_seconds=0.3, retry_seconds=35)
RECOVERY_SECONDS = 10
REFUSALS = 8  # deliveries the receiver of the grades answers 503 in its test


# The replicas reach two runners through the Redis job queue (a job whose runner died is
# taken back after 6 s); TORCHQUIZ_TEST_SCALE_HTTP=1: one shared HTTP runner instead (that
# path is also covered in tests/runner).
QUEUE = os.environ.get("TORCHQUIZ_TEST_SCALE_HTTP", "") in ("", "0")


@pytest.fixture(scope="module")
def site() -> Iterator[Cluster]:
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    with cluster(
        uid_base=64000 + 1000 * worker,
        queue=QUEUE,
        runners=2 if QUEUE else 1,
        runner_overrides={"queue_reclaim_seconds": 6} if QUEUE else None,
    ) as c:
        yield c


@pytest.fixture(scope="module")
def grading(site: Cluster) -> Iterator[Grades]:
    with grades(site) as g:
        yield g


def report(c: Cluster, stats: Stats) -> str:
    """For an assertion's message: the counts, then every process's log."""
    return f"{table(stats)}\n{outcomes(stats)}\n{c.logs()}"


def assert_all_stored(c: Cluster, stats: Stats) -> None:
    acknowledged = sorted(stats.acknowledged)
    assert acknowledged, "the load acknowledged no answer at all"
    rows = c.postgres.query("SELECT id FROM answers WHERE id = ANY(%s)", acknowledged)
    lost = set(acknowledged) - {row[0] for row in rows}
    assert not lost, f"acknowledged answers not in the database: {sorted(lost)}"


def server_errors(stats: Stats) -> dict[tuple[str, int], str]:
    """Each route's 5xx but the 502/503/504 a client is told to try again, with a body."""
    return {
        key: body for key, body in stats.samples.items() if key[1] >= 500 and key[1] not in RETRIED
    }


def assert_no_failures(c: Cluster, stats: Stats) -> None:
    """Every request answered within the clients' retry time. A POST whose replica died (or
    whose database went away) mid-request holds its Idempotency-Key until the claim lapses
    (app.core.idempotency.ABANDONED, 20 s), well within the clients' 30 s of retries."""
    assert not stats.failures, report(c, stats)


def under_load(
    site: Cluster, grading: Grades, fault: Callable[[], None], *, before: float = 4
) -> Stats:
    """The learners' load (the graded assignment among their steps) for `before` seconds,
    then `fault`, then load until the site has recovered (every replica ready) and a few
    seconds more; the load's counts."""
    load = Background(site.url, LEARNERS, MIX, graded=grading.graded)
    time.sleep(before)
    fault()
    site.wait_ready()
    time.sleep(3)
    return load.stop()


def assert_whole(site: Cluster, grading: Grades, stats: Stats) -> None:
    """Nothing failed, no 500, every acknowledged answer stored, every acknowledged
    submission's grade delivered."""
    assert_no_failures(site, stats)
    assert not server_errors(stats), report(site, stats)
    assert_all_stored(site, stats)
    grading.assert_all_delivered(site, stats.submitted, report(site, stats))


def test_an_app_replica_killed_under_load_loses_no_acknowledged_answer_or_grade(
    site: Cluster, grading: Grades
) -> None:
    served_before = site.proxy.access_log().count(f"upstream=127.0.0.1:{site.replicas[1].port}")

    def kill_and_restart() -> None:
        site.replicas[0].kill()
        time.sleep(5)  # load meanwhile goes to the other replica only
        site.replicas[0].start()

    stats = under_load(site, grading, kill_and_restart)

    assert_whole(site, grading, stats)
    served = site.proxy.access_log().count(f"upstream=127.0.0.1:{site.replicas[1].port}")
    assert served > served_before, "the other replica took no traffic"


class Probe:
    """A reader of a page that needs the database, every 0.2 s in a thread: what each answer
    was, and how long it took."""

    def __init__(self, url: str) -> None:
        self.answers: list[tuple[float, int, float, str]] = []  # (at, status, seconds, body)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()

    def _run(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = client.get("/api/v1/topics")
                    status, body = response.status_code, response.text[:200]
                except httpx.HTTPError as exc:
                    status, body = 0, repr(exc)
                self.answers.append((started, status, time.monotonic() - started, body))
                time.sleep(0.2)

    def stop(self) -> list[tuple[float, int, float, str]]:
        self._stop.set()
        self._thread.join(timeout=60)
        return self.answers


def assert_degrades_then_recovers(answers: list[tuple[float, int, float, str]], back: float):
    """Only 200s and 503s that say why; none slower than RECOVERY_SECONDS; a 200 within
    RECOVERY_SECONDS of the part coming `back`."""
    odd = [(status, body) for _, status, _, body in answers if status not in (200, 503)]
    assert not odd, odd[:5]
    unexplained = [b for _, s, _, b in answers if s == 503 and '"message"' not in b]
    assert not unexplained, unexplained[:3]
    slow = [seconds for _, _, seconds, _ in answers if seconds > RECOVERY_SECONDS]
    assert not slow, f"answers took {slow}"
    recovered = [at for at, status, _, _ in answers if status == 200 and at >= back]
    assert recovered and recovered[0] - back <= RECOVERY_SECONDS, answers[-5:]


def assert_restart_degrades_then_recovers(
    site: Cluster, grading: Grades, part: Postgres | Redis, replica: Replica
) -> None:
    """`part` restarted (down 3 s) under load while `replica` is probed."""
    probe = Probe(replica.url)
    back = [0.0]

    def restart() -> None:
        part.restart(down_seconds=3)
        back[0] = time.monotonic()

    stats = under_load(site, grading, restart)

    assert_degrades_then_recovers(probe.stop(), back[0])
    assert_whole(site, grading, stats)


def test_postgresql_restarted_under_load_gives_503s_then_recovers_and_delivers_the_grades(
    site: Cluster, grading: Grades
) -> None:
    assert_restart_degrades_then_recovers(site, grading, site.postgres, site.replicas[0])


def test_redis_restarted_under_load_degrades_then_recovers_and_delivers_the_grades(
    site: Cluster, grading: Grades
) -> None:
    assert_restart_degrades_then_recovers(site, grading, site.redis, site.replicas[1])


def test_grades_a_receiver_refused_for_a_while_are_delivered_once_it_answers_again(
    site: Cluster, grading: Grades
) -> None:
    refused_before = grading.refused()

    def refuse_for_a_while() -> None:
        grading.refuse_next(REFUSALS)
        deadline = time.monotonic() + 30
        while grading.refused() < refused_before + REFUSALS:  # the grades keep coming
            assert time.monotonic() < deadline, grading.refused() - refused_before
            time.sleep(0.2)

    stats = under_load(site, grading, refuse_for_a_while)

    assert grading.refused() == refused_before + REFUSALS
    assert_whole(site, grading, stats)


def test_a_runner_killed_mid_run_answers_its_snippet_and_ends_its_training(
    site: Cluster,
) -> None:
    """A snippet that sleeps is killed with its runner: answered, with a clear error or a
    rerun, never left hanging. A training going at that moment ends (failed with the reason
    on the HTTP runner, which cannot hand it over; done after a retry through the queue)."""
    address = {"X-Forwarded-For": "10.9.9.9"}
    with httpx.Client(base_url=site.url, timeout=120, headers=address) as client:
        config = {"hidden_size": 64, "epochs": 40, "batch_size": 8, "seed": 7}  # some seconds
        lab = client.post("/api/v1/lab/runs", json={"config": config, "task": False})
        assert lab.status_code == 202, lab.text
        snippet: dict[str, httpx.Response | BaseException] = {}

        def run_snippet() -> None:
            code = "import time\ntime.sleep(3)\nprint('done')"
            try:
                snippet["answer"] = client.post("/api/v1/runs", json={"code": code})
            except httpx.HTTPError as exc:
                snippet["answer"] = exc

        running = threading.Thread(target=run_snippet)
        running.start()
        time.sleep(1.5)
        site.runners[0].kill()
        running.join(timeout=60)
        assert not running.is_alive(), "the snippet's request hangs"
        answer = snippet["answer"]
        assert isinstance(answer, httpx.Response), answer
        if answer.status_code == 200:  # run again elsewhere (the queue), to its end
            assert "done" in answer.json()["stdout"]
        else:
            assert answer.status_code == 503 and answer.json()["message"], answer.text
        deadline = time.monotonic() + 90
        while (status := client.get(f"/api/v1/lab/runs/{lab.json()['id']}").json()["status"]) in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, "the training never ended"
            time.sleep(1)
        assert status == ("done" if site.queue else "failed"), status
    site.runners[0].start()
    site.wait_ready()


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_schemathesis_through_the_proxy_finds_no_server_error_and_no_response_off_schema(
    site: Cluster,
) -> None:
    """The document the replicas serve, read through the proxy; each drawn request sent
    through it (to either replica), from an address of its own (the proxy's header), and its
    response checked: no 5xx, and a body and content type the document gives for the status."""
    document = httpx.get(f"{site.url}/openapi.json", timeout=30).raise_for_status().json()
    schema = schemathesis.openapi.from_dict(document)
    problems: list[str] = []
    sent = Counter[int]()
    count = itertools.count(1)
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]

        @bounded(EXAMPLES)
        @given(case=operation.as_strategy())
        def answers_as_documented(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            address = {"X-Forwarded-For": f"10.200.{next(count) // 256 % 256}.{next(count) % 256}"}
            try:
                response = case.call(base_url=site.url, headers=address, timeout=30)
            except requests.RequestException as exc:
                problems.append(f"{case.method} {case.formatted_path}: {exc!r}")
                return
            sent[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis's failures
                problems.append(f"{case.method} {case.formatted_path}: {str(exc)[:600]}")

        answers_as_documented()
    assert sum(sent.values()) >= 100 and sent[200] + sent[201] + sent[202] >= 10, sent
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} in all; {dict(sent)})"


def tracebacks(log: str) -> list[str]:
    """Each traceback in a process's log: the line before it (the log line that carried it,
    saying what the code was doing), its last frame and its exception; for a message."""
    lines = log.splitlines()
    found = []
    for at, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            end = next((i for i in range(at + 1, len(lines)) if lines[i][:1].strip()), at)
            found.append("\n    ".join(lines[max(at - 1, 0) : at] + lines[end - 2 : end + 1]))
    return found


def test_the_replicas_and_runners_logged_no_traceback_through_the_load_and_the_faults(
    site: Cluster,
) -> None:
    """Last in the module: every fault above is one a deployment expects (a replica killed,
    the database or Redis restarted, a runner gone, a receiver refusing), so each is logged
    as a line that names it, never as a traceback; a traceback is a bug. (Run alone, on a
    fresh cluster, this checks the start-up only.)"""
    logged = {s.name: tracebacks(s.log()) for s in [*site.replicas, *site.runners]}
    assert not any(logged.values()), "\n".join(
        f"{name}: {len(each)} tracebacks, the first:\n" + "\n".join(each[:5])
        for name, each in logged.items()
        if each
    )
