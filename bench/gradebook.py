"""Gradebook page benchmark: an assignment's gradebook at 200 learners through a real HTTP
server, beside GET /healthz measured in the same run.

A scratch database (on PostgreSQL: created on the server of --url and dropped after; on
SQLite: a file in a temporary folder) is migrated and filled by `torchquiz serve` itself,
started here with running code off. A staff member signs up over the API; the course (theirs),
its enrolled learners, an assignment of four shipped questions and one or two submitted
attempts per learner with their answers are then written in bulk (not timed), and on
PostgreSQL analysed, as autovacuum would within the minute. The gradebook page, its JSON
face and /healthz are requested in turn, --requests times each after a warm-up, one at a time
over one keep-alive connection, signed in as the staff member. Printed: the p50 and p95 of
each, the ratio of each p50 to the health endpoint's, and the page's size. No target is
asserted: the figures are for the issue note.

    python bench/gradebook.py [--db postgresql|sqlite|both] [--learners 200] [--requests 50]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.attempts.models import Answer, Assignment, QuizSession  # noqa: E402
from app.attempts.rules import AssignmentRules  # noqa: E402
from app.core.db import create_db_engine  # noqa: E402
from app.courses import service as courses  # noqa: E402
from app.courses.models import Enrolment  # noqa: E402
from app.learners.models import Learner, User  # noqa: E402
from app.questions.models import QuestionRow, TopicRow  # noqa: E402

TOPIC = "birnn"
QUESTIONS = 4
STAFF = {"email": "bench-owner@example.org", "password": "bench password 1234"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def conninfo(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    user = f" user={parsed.username}" if parsed.username else ""
    return (
        f"host={parsed.host} port={parsed.port or 5432}{user} dbname={database or parsed.database}"
    )


@contextlib.contextmanager
def scratch_database(kind: str, pg_url: str, folder: Path) -> Iterator[str]:
    """A database URL that is empty now and gone afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    name = f"torchquiz_bench_{uuid.uuid4().hex[:10]}"
    admin = conninfo(pg_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(pg_url).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(database_url: str, instance: Path) -> Iterator[str]:
    """`torchquiz serve` on that database (it migrates and syncs the bank), code running off."""
    port = free_port()
    env = {
        **os.environ,
        "TORCHQUIZ_INSTANCE_DIR": str(instance),
        "TORCHQUIZ_DATABASE_URL": database_url,
        "TORCHQUIZ_RUNNER_URL": "off",
    }
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    log = instance / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            if proc.poll() is not None:
                raise SystemExit(f"the server exited at start-up:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        else:
            raise SystemExit(f"the server at {url} did not answer within 180 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def populate(database_url: str, learners: int, seed: int) -> tuple[str, str]:
    """The staff member's course, its learners, the assignment and the attempts, written in
    bulk; (course slug, assignment public id)."""
    rng = random.Random(seed)
    engine = create_db_engine(database_url)
    try:
        with Session(engine) as db:
            owner = db.scalar(select(User).where(User.email == STAFF["email"]))
            assert owner is not None, "the staff member signs up first"
            course = courses.create_course(db, owner.id, "Gradebook bench")
            topic = db.scalar(select(TopicRow).where(TopicRow.slug == TOPIC))
            assert topic is not None
            published = db.scalars(
                select(QuestionRow.published_version_id)
                .where(QuestionRow.topic_id == topic.id)
                .where(QuestionRow.published_version_id.is_not(None))
                .order_by(QuestionRow.slug)
                .limit(QUESTIONS)
            )
            versions = [v for v in published if v is not None]
            rules = AssignmentRules.model_validate(
                {"sources": [TOPIC], "draws": [{"count": QUESTIONS}], "attempts_allowed": 2}
            )
            assignment = Assignment(
                course_id=course.id,
                topic_id=topic.id,
                title="Week 1 test",
                rules=rules.model_dump(mode="json"),
                created_by=owner.id,
            )
            db.add(assignment)
            db.flush()
            _learners_and_attempts(db, course.id, assignment, versions, learners, rng)
            db.commit()
            if engine.dialect.name == "postgresql":
                # What autovacuum does after a bulk insert within the minute: without the
                # statistics the planner guesses two attempts, and loops over every one of
                # them per learner (~8 ms of the 10 the table's query takes, unanalysed).
                db.execute(text("ANALYZE"))
                db.commit()
            return course.slug, assignment.public_id
    finally:
        engine.dispose()


def _learners_and_attempts(
    db: Session,
    course_id: int,
    assignment: Assignment,
    versions: list[int],
    count: int,
    rng: random.Random,
) -> None:
    users = [
        {"email": f"learner{n:04d}@example.org", "display_name": f"Learner {n:04d}"}
        for n in range(count)
    ]
    user_ids = list(
        db.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), users)
    )
    db.execute(insert(Enrolment), [{"course_id": course_id, "user_id": u} for u in user_ids])
    learner_ids = list(
        db.scalars(
            insert(Learner).returning(Learner.id, sort_by_parameter_order=True),
            [{"public_id": str(uuid.uuid4()), "user_id": u} for u in user_ids],
        )
    )
    sessions, marks = [], []
    for learner_id in learner_ids:
        for number in range(1, rng.choice((1, 2)) + 1):
            right = [rng.random() < 0.7 for _ in versions]
            start = T0 + timedelta(hours=number, minutes=rng.randrange(60))
            sessions.append(
                {
                    "learner_id": learner_id,
                    "topic_id": assignment.topic_id,
                    "mode": "test",
                    "version_ids": versions,
                    "filters": {},
                    "started_at": start,
                    "finished_at": start + timedelta(minutes=rng.randrange(3, 20)),
                    "score": round(100 * sum(right) / len(right), 1),
                    "assignment_id": assignment.id,
                    "attempt": number,
                }
            )
            marks.append((learner_id, right))
    session_ids = db.scalars(
        insert(QuizSession).returning(QuizSession.id, sort_by_parameter_order=True), sessions
    )
    answers = [
        {
            "session_id": session_id,
            "learner_id": learner_id,
            "question_version_id": version,
            "position": position,
            "slot": position,
            "given": "A" if ok else "B",
            "correct": ok,
            "score": 1.0 if ok else 0.0,
            "time_taken_ms": 30_000,
        }
        for session_id, (learner_id, right) in zip(session_ids, marks, strict=True)
        for position, (version, ok) in enumerate(zip(versions, right, strict=True), start=1)
    ]
    db.execute(insert(Answer), answers)


@dataclass
class Timing:
    name: str
    seconds: list[float]
    size: int

    def percentile(self, p: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds) * 1000


def run(kind: str, pg_url: str, learners: int, requests: int, seed: int) -> None:
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database_url = stack.enter_context(scratch_database(kind, pg_url, folder))
        url = stack.enter_context(server(database_url, folder))
        httpx.post(f"{url}/api/v1/account/sign-up", json=STAFF).raise_for_status()
        start = time.perf_counter()
        slug, aid = populate(database_url, learners, seed)
        made = time.perf_counter() - start
        base = f"/courses/{slug}/assignments/{aid}"
        paths = {
            "GET /healthz (baseline)": "/healthz",
            "gradebook page (HTML)": f"{base}/gradebook",
            "gradebook API (JSON)": f"/api/v1{base}/gradebook",
        }
        timings = measure(url, paths, requests)
    report(kind, learners, requests, made, timings)


def measure(url: str, paths: dict[str, str], requests: int) -> list[Timing]:
    """Signed in as the staff member, each path in turn, `requests` rounds after two warm-up
    rounds: a change in the machine's load falls on the baseline as much as on the pages."""
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/api/v1/account/sign-in", json=STAFF).raise_for_status()
        timings = {name: Timing(name, [], 0) for name in paths}
        for round_ in range(requests + 2):
            for name, path in paths.items():
                start = time.perf_counter()
                response = client.get(path)
                elapsed = time.perf_counter() - start
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {response.status_code}\n{response.text[:500]}")
                if round_ >= 2:
                    timings[name].seconds.append(elapsed)
                    timings[name].size = len(response.content)
    return list(timings.values())


def report(kind: str, learners: int, requests: int, made: float, rows: list[Timing]) -> None:
    baseline = rows[0]
    print(
        f"\n{kind}: {learners} learners, {requests} requests each, one connection"
        f" (data written in {made:.1f} s, not measured)"
    )
    print(f"  {'endpoint':26} {'p50 ms':>8} {'p95 ms':>8} {'vs health p50':>14} {'bytes':>9}")
    for row in rows:
        print(
            f"  {row.name:26} {row.p50:8.1f} {row.percentile(95):8.1f}"
            f" {row.p50 / baseline.p50:13.1f}x {row.size:9,d}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--url", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    kinds = ("postgresql", "sqlite") if args.db == "both" else (args.db,)
    print(f"{os.cpu_count()} CPUs")
    for kind in kinds:
        run(kind, args.url, args.learners, args.requests, args.seed)


if __name__ == "__main__":
    main()
