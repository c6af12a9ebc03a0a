"""Scale-out benchmark: simulated learners practising, running snippets, training tiny lab
models and taking a graded assignment against two `torchquiz serve` replicas behind nginx, on a
private PostgreSQL and Redis and code runners, all started here (tests/scale/cluster.py); each
submitted attempt's grade goes out as a webhook to a receiver in this process
(tests/scale/grades.py). The baseline, measured in the same run just before: the same learners
(a share of the time) against one replica, straight.

Printed per phase: requests a second, p50/p99 per route, statuses, retries, failed requests
(target: none; a 429 with Retry-After is waited out, and is not a failure), and at the end the
counts against the database: answers acknowledged vs stored, lab runs accepted vs finished,
grades queued (outbox) vs delivered (the receiver's count, per attempt) once the outbox drained.

    python bench/scale_out.py                        # 200 learners, 300 s (+ 60 s baseline)
    python bench/scale_out.py --short                # 30 learners, 30 s (+ 15 s baseline)
    python bench/scale_out.py --learners 100 --seconds 120 --baseline-seconds 0 [--queue]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.scale, run as `python bench/scale_out.py`

from tests.scale.cluster import Cluster, cluster  # noqa: E402
from tests.scale.grades import Grades, drained, grades  # noqa: E402
from tests.scale.learners import Graded, Mix, Stats, load, outcomes, table  # noqa: E402

# The bench's runners' uids, apart from the tests' (64000...) and every other runner's.
UID_BASE = 66000


def phase(title: str, url: str, learners: int, seconds: float, mix: Mix, graded: Graded) -> Stats:
    print(f"\n== {title}: {learners} learners for {seconds:g} s, think {mix.think_seconds:g} s")
    stats = asyncio.run(load(url, learners, seconds, mix, graded=graded))
    print(table(stats))
    print(outcomes(stats))
    return stats


def counts(c: Cluster, runs: list[Stats], grading: Grades) -> None:
    """What the clients were told against what the database and the grades' receiver hold."""
    acknowledged = sorted(set().union(*(s.acknowledged for s in runs)))
    stored = c.postgres.query("SELECT count(*) FROM answers WHERE id = ANY(%s)", acknowledged)
    print("\n== counts against the database")
    print(f"answers acknowledged: {len(acknowledged)}, of them stored: {stored[0][0]}")
    print(f"answers stored in all: {c.postgres.query('SELECT count(*) FROM answers')[0][0]}")
    accepted = [run for s in runs for run in s.labs_accepted]
    rows: list[Any] = c.postgres.query(
        "SELECT status, count(*) FROM lab_runs WHERE public_id = ANY(%s) GROUP BY status",
        accepted,
    )
    print(f"lab runs accepted: {len(accepted)}, in the database by status: {dict(rows)}")
    try:
        drained(c)
    except AssertionError as exc:  # reported below, as the counts show it
        print(f"the outbox did not drain: {exc}")
    outbox = c.postgres.query("SELECT kind, status, count(*) FROM outbox GROUP BY kind, status")
    print(f"outbox by kind and status: {outbox}")
    print(grading.counts(c, set().union(*(s.submitted for s in runs))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--baseline-seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds between steps")
    parser.add_argument("--short", action="store_true", help="30 learners, 30 s (+15 s)")
    parser.add_argument("--queue", action="store_true", help="runners behind the Redis queue")
    parser.add_argument("--runners", type=int, default=None, help="default: 2 queued, 1 HTTP")
    args = parser.parse_args()
    if args.short:
        args.learners, args.seconds, args.baseline_seconds = 30, 30, 15
    mix = Mix(think_seconds=args.think)
    runners = args.runners or (2 if args.queue else 1)
    started = time.monotonic()
    with cluster(runners=runners, queue=args.queue, uid_base=UID_BASE) as c, grades(c) as g:
        mode = f"{runners} runner(s) behind the Redis queue" if args.queue else "one HTTP runner"
        print(f"cluster up in {time.monotonic() - started:.0f} s: 2 replicas, nginx, {mode}")
        runs = []
        if args.baseline_seconds:
            title = "baseline: one replica, no proxy"
            one = c.replicas[0].url
            runs.append(phase(title, one, args.learners, args.baseline_seconds, mix, g.graded))
        title = "two replicas behind nginx"
        runs.append(phase(title, c.url, args.learners, args.seconds, mix, g.graded))
        counts(c, runs, g)
        proxy_errors = Counter(
            re.sub(r"\d+", "N", line.split("] ", 1)[-1].split(", client")[0])
            for line in c.proxy.error_log().splitlines()
        )
        for message, count in proxy_errors.most_common(8):
            print(f"nginx error log: {count} x {message}")
        for replica in c.replicas:
            tracebacks = replica.log().count("Traceback")
            print(f"{replica.name}: {tracebacks} tracebacks in its log")


if __name__ == "__main__":
    main()
