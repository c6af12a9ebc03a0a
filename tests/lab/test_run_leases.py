"""A lab run belongs to the process that follows it, for as long as that process renews its
hold: a server starting beside it leaves its runs alone, and only a run whose holder died (its
hold lapsed) is marked failed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.db import as_utc, utcnow
from app.lab import service
from app.lab.config import BASELINE
from app.lab.models import LabRun


def _run(db: Session, owner: str | None, *, lapsed: bool = False) -> LabRun:
    run = service.new_run(db, None, BASELINE, task=False, torch_version="test", owner=owner)
    if lapsed:
        run.lease_until = utcnow() - timedelta(seconds=1)
    db.flush()
    return run


def test_a_start_fails_only_the_runs_whose_holder_died(db: Session) -> None:
    neighbours = _run(db, "host:101:live")  # another server, alive: its hold is fresh
    dead = _run(db, "host:102:dead", lapsed=True)
    unheld = _run(db, None)  # made before holds were kept

    assert service.fail_unfinished(db) == 2

    db.expire_all()
    assert db.get(LabRun, neighbours.id).status == "queued"  # type: ignore[union-attr]
    assert db.get(LabRun, dead.id).status == "failed"  # type: ignore[union-attr]
    assert db.get(LabRun, unheld.id).status == "failed"  # type: ignore[union-attr]


def test_a_holder_renews_its_own_active_runs_and_no_one_else_s(db: Session) -> None:
    mine = _run(db, "host:201:me", lapsed=True)
    theirs = _run(db, "host:202:them", lapsed=True)
    finished = _run(db, "host:201:me", lapsed=True)
    finished.status = "done"
    db.flush()

    assert service.renew_leases(db, "host:201:me") == 1

    db.expire_all()
    assert as_utc(db.get(LabRun, mine.id).lease_until) > utcnow()  # type: ignore[arg-type, union-attr]
    assert as_utc(db.get(LabRun, theirs.id).lease_until) < utcnow()  # type: ignore[arg-type, union-attr]
    assert as_utc(db.get(LabRun, finished.id).lease_until) < utcnow()  # type: ignore[arg-type, union-attr]
    assert service.fail_unfinished(db) == 1  # theirs: lapsed; mine renewed; finished: done
