"""A lab run belongs to the process that follows it, for as long as that process renews its
hold: a server starting beside it leaves its runs alone, and only a run whose holder died (its
hold lapsed) is marked failed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import as_utc, create_db_engine, utcnow
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


def _with_job(db: Session, owner: str, *, code: str | None = None, job: int | None = 7) -> LabRun:
    run = _run(db, owner, lapsed=True)
    run.status, run.job_id, run.code = "running", job, code
    db.flush()
    return run


def test_a_lapsed_training_with_a_job_is_taken_over_by_the_caller(db: Session) -> None:
    training = _with_job(db, "host:301:dead")
    own_model = _with_job(db, "host:301:dead", code="class Model: ...")
    no_job = _with_job(db, "host:301:dead", job=None)

    found = service.fail_lapsed(db, besides="host:302:me", adopt=True)

    assert [r.id for r in found.adopted] == [training.id]
    assert {r.id for r in found.failed} == {own_model.id, no_job.id}
    db.expire_all()
    taken = db.get(LabRun, training.id)
    assert taken is not None and taken.owner == "host:302:me" and taken.status == "running"
    assert as_utc(taken.lease_until) > utcnow() + timedelta(seconds=service.LEASE_SECONDS / 2)  # type: ignore[arg-type]
    failed = db.get(LabRun, own_model.id)
    assert failed is not None and failed.status == "failed"
    assert failed.message == service.CODE_HOLDER_GONE
    assert db.get(LabRun, no_job.id).message == service.HOLDER_GONE  # type: ignore[union-attr]


def test_a_caller_that_cannot_reach_the_job_fails_the_lapsed_training(db: Session) -> None:
    training = _with_job(db, "host:401:dead")

    found = service.fail_lapsed(db, besides="host:402:me", adopt=False)

    assert found.adopted == [] and [r.id for r in found.failed] == [training.id]
    db.expire_all()
    assert db.get(LabRun, training.id).message == service.HOLDER_GONE  # type: ignore[union-attr]


def test_an_epoch_is_recorded_once_however_often_it_is_told(db: Session) -> None:
    run = _with_job(db, "host:501:me")
    told = [
        {"type": "started"},
        {"type": "epoch", "epoch": 1, "seconds": 0.5},
        {"type": "started"},  # an adopter reading the job from its start
        {"type": "epoch", "epoch": 1, "seconds": 0.5},
        {"type": "epoch", "epoch": 2, "seconds": 0.5},
        {"type": "epoch", "epoch": 1, "seconds": 0.5},
        {"type": "epoch", "epoch": 2, "seconds": 0.5},
    ]
    for event in told:
        service.apply_event(db, run.id, event)

    db.expire_all()
    recorded = db.get(LabRun, run.id)
    assert recorded is not None
    assert [e["epoch"] for e in recorded.epochs] == [1, 2]
    assert service.changes(recorded) == 3  # its start and two epochs


def _ids(found: service.Lapsed) -> tuple[list[int], list[int]]:
    return [r.id for r in found.adopted], [r.id for r in found.failed]


def test_two_neighbours_never_both_take_one_lapsed_run(settings: Settings) -> None:
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        pytest.skip("row locks that others skip are PostgreSQL's (SQLite has one writer)")
    engine = create_db_engine(settings.database_url)
    try:
        with Session(engine) as arrange, arrange.begin():
            run_id = _with_job(arrange, "host:601:dead").id
        with Session(engine) as first, Session(engine) as second:
            first_took = _ids(service.fail_lapsed(first, besides="host:602:a", adopt=True))
            # The first has not committed: its lock holds, and the second skips the run.
            second_took = _ids(service.fail_lapsed(second, besides="host:603:b", adopt=True))
            first.commit()
            second.rollback()
            # Committed: the first's hold is fresh, and the run no longer lapsed.
            third_took = _ids(service.fail_lapsed(second, besides="host:603:b", adopt=True))
            owner = second.get(LabRun, run_id).owner  # type: ignore[union-attr]
            second.rollback()
        assert first_took == ([run_id], [])
        assert second_took == third_took == ([], [])
        assert owner == "host:602:a"
    finally:
        with Session(engine) as cleanup, cleanup.begin():
            cleanup.execute(delete(LabRun).where(LabRun.owner.like("host:60%")))
        engine.dispose()
