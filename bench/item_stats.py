"""Item statistics benchmark: a 40-question assignment with 10,000 submitted attempts (400,000
answers) on PostgreSQL, its statistics computed with a cold cache, beside a plain
`SELECT count(*)` over the same answers measured in the same run.

The data go into a scratch database this script creates and drops (on the server of --url,
by default the test server), migrated like any other. Learners answer by a one-parameter
logistic model (ability ~ N(0, 1), each question a difficulty), choosing a wrong option at
random when wrong, so every figure has spread. Generation uses COPY and is not timed.
The statistics are app.statistics.service.assignment_statistics with its cache cleared: the
one query, the matrix and every per-question figure, options and flags included. Each is
timed --repeat times after one warm-up; the medians and their ratio are printed, with the
warm call (the fingerprint query only) for scale. Target: statistics in at most 2 s.

    python bench/item_stats.py [--url postgresql://127.0.0.1:5432/test] [--attempts 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.attempts.models import Assignment  # noqa: E402
from app.core.db import create_db_engine, migrate_database  # noqa: E402
from app.statistics import service  # noqa: E402

QUESTIONS = 40
OPTIONS = 4
TARGET_SECONDS = 2.0


def conninfo(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    user = f" user={parsed.username}" if parsed.username else ""
    name = database or parsed.database
    return f"host={parsed.host} port={parsed.port or 5432}{user} dbname={name}"


def generate(dsn: str, attempts: int, seed: int) -> tuple[int, int]:
    """The course, the assignment and its attempts; (course id, assignment id)."""
    rng = np.random.default_rng(seed)
    now = datetime(2026, 3, 2, tzinfo=UTC)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO courses (slug, title, join_code, created_at) "
            "VALUES ('bench', 'Bench', 'BENCH001', %s) RETURNING id",
            (now,),
        )
        course_id = _one(cur)
        cur.execute(
            "INSERT INTO topics (slug, title, category, estimated_minutes, data, content_hash,"
            " updated_at, course_id) VALUES ('bench-bank', 'Bench', 'bench', 10, '{}', 'x', %s,"
            " %s) RETURNING id",
            (now, course_id),
        )
        topic_id = _one(cur)
        versions = []
        for number in range(QUESTIONS):
            cur.execute(
                "INSERT INTO questions (slug, topic_id, course_id, position, created_at)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (f"q{number:02d}", topic_id, course_id, number, now),
            )
            question_id = _one(cur)
            options = [{"text": f"option {o}", "correct": o == 0} for o in range(OPTIONS)]
            data = {"type": "single_choice", "options": options}
            level = ("easy", "medium", "hard")[number % 3]
            cur.execute(
                "INSERT INTO question_versions (question_id, number, content_hash, type,"
                " difficulty, data, source_path, created_at) VALUES (%s, 1, %s,"
                " 'single_choice', %s, %s, 'bench', %s) RETURNING id",
                (question_id, f"h{number}", level, json.dumps(data), now),
            )
            versions.append(_one(cur))
        cur.execute(
            "INSERT INTO assignments (public_id, course_id, topic_id, title, rules, is_default,"
            " created_at, updated_at) VALUES (%s, %s, %s, 'Bench', '{}', false, %s, %s)"
            " RETURNING id",
            (str(uuid.uuid4()), course_id, topic_id, now, now),
        )
        assignment_id = _one(cur)
        with cur.copy("COPY learners (public_id, created_at) FROM STDIN") as copy:
            for _ in range(attempts):
                copy.write_row((str(uuid.uuid4()), now))
        cur.execute("SELECT id FROM learners ORDER BY id DESC LIMIT %s", (attempts,))
        learners = sorted(row[0] for row in cur.fetchall())
        ability = rng.normal(size=attempts)
        difficulty = rng.normal(scale=1.2, size=QUESTIONS)
        right = rng.random((attempts, QUESTIONS)) < 1 / (1 + np.exp(difficulty - ability[:, None]))
        wrong_pick = rng.integers(1, OPTIONS, size=(attempts, QUESTIONS))
        version_ids = json.dumps(versions)
        columns = (
            "public_id, learner_id, topic_id, mode, version_ids, filters, started_at,"
            " finished_at, score, assignment_id, attempt"
        )
        with cur.copy(f"COPY quiz_sessions ({columns}) FROM STDIN") as copy:
            for a, learner in enumerate(learners):
                score = round(100 * right[a].sum() / QUESTIONS, 1)
                at = now + timedelta(seconds=a)
                copy.write_row(
                    (str(uuid.uuid4()), learner, topic_id, "test", version_ids, "{}",
                     at - timedelta(minutes=20), at, score, assignment_id, 1)
                )  # fmt: skip
        cur.execute(
            "SELECT id, learner_id FROM quiz_sessions WHERE assignment_id = %s ORDER BY learner_id",
            (assignment_id,),
        )
        sessions = cur.fetchall()
        columns = (
            "session_id, learner_id, question_version_id, position, slot, given, correct,"
            " score, time_taken_ms, created_at, updated_at"
        )
        with cur.copy(f"COPY answers ({columns}) FROM STDIN") as copy:
            for a, (session_id, learner) in enumerate(sessions):
                for q in range(QUESTIONS):
                    ok = bool(right[a, q])
                    given = json.dumps(chr(ord("A") + (0 if ok else int(wrong_pick[a, q]))))
                    copy.write_row(
                        (session_id, learner, versions[q], q + 1, q + 1, given, ok,
                         1.0 if ok else 0.0, 30_000, now, now)
                    )  # fmt: skip
        conn.commit()
        cur.execute("ANALYZE")
    return course_id, assignment_id


def _one(cur: psycopg.Cursor[tuple[int]]) -> int:
    row = cur.fetchone()
    assert row is not None
    return row[0]


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(url: str, assignment_id: int, repeat: int) -> None:
    engine = create_db_engine(url)
    with Session(engine) as db:
        assignment = db.get(Assignment, assignment_id)
        assert assignment is not None

        def cold() -> service.AssignmentStatistics:
            service._cache.clear()
            return service.assignment_statistics(db, assignment)

        def count() -> object:
            return db.execute(
                text(
                    "SELECT count(*) FROM answers a JOIN quiz_sessions s ON s.id = a.session_id"
                    " WHERE s.assignment_id = :a"
                ),
                {"a": assignment_id},
            ).scalar()

        answers = count()
        stats = cold()
        computed = median_seconds(cold, repeat)
        baseline = median_seconds(count, repeat)
        warm = median_seconds(lambda: service.assignment_statistics(db, assignment), repeat)
        db.rollback()
    engine.dispose()
    print(f"{stats.test.n} attempts, {len(stats.questions)} questions, {answers} answers")
    print(f"  statistics, cold cache:              {computed * 1000:8.1f} ms")
    print(f"  baseline (SELECT count(*) answers):  {baseline * 1000:8.1f} ms")
    print(f"  ratio: {computed / baseline:.1f}x")
    print(f"  statistics, cached (fingerprint):    {warm * 1000:8.1f} ms")
    print(f"  cronbach alpha {stats.test.cronbach_alpha.value:.3f}, {len(stats.flags)} flags")
    verdict = "met" if computed <= TARGET_SECONDS else "MISSED"
    print(f"  target statistics <= {TARGET_SECONDS:.0f} s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    scratch = f"torchquiz_bench_{uuid.uuid4().hex[:10]}"
    admin = conninfo(args.url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    try:
        url = make_url(args.url).set(drivername="postgresql+psycopg", database=scratch)
        rendered = url.render_as_string(hide_password=False)
        migrate_database(rendered)
        start = time.perf_counter()
        _course, assignment_id = generate(conninfo(args.url, scratch), args.attempts, args.seed)
        print(f"generated in {time.perf_counter() - start:.1f} s (not measured)")
        measure(rendered, assignment_id, args.repeat)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


if __name__ == "__main__":
    main()
