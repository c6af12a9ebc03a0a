"""The lab's logic over the database: runs, the runner's events applied to them, the verdict,
the cache of identical runs and the reference figures. Both faces (API, pages) call these."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import as_utc, utcnow
from app.core.errors import AppError, NotFoundError
from app.lab.config import BASELINE, REFERENCE_SEEDS, REFERENCES, TASK, broken_constraint
from app.lab.models import ACTIVE, LabRun
from app.lab.schemas import FINISHED, Criterion, EpochOut, LabRunOut, ReferenceFigures
from app.training.config import LabConfig, parameter_count


class RunInProgressError(AppError):
    status = 429
    code = "run_in_progress"

    def __init__(self, run_id: str) -> None:
        super().__init__(f"you already have a run in progress ({run_id}); wait for it or cancel it")
        self.run_id = run_id  # the page links to it
        self.headers = {"Retry-After": "5"}


class ConstraintError(AppError):
    status = 422
    code = "task_constraint"


def refuse_if_invalid(config: LabConfig, task: bool, code: str | None = None) -> None:
    """A task run must keep within the task's constraints; the message names the one broken.
    A learner's own model is only sized once built: the verdict judges its size."""
    why = TASK.procedure_refusal(config) if code else TASK.refusal(config)
    if task and why:
        raise ConstraintError(broken_constraint(why), field="config")


def cached_run(db: Session, key: str) -> LabRun | None:
    """A finished, successful run with the same config, seed and torch: the same numbers."""
    query = select(LabRun).where(LabRun.config_key == key, LabRun.status == "done")
    return db.scalars(query.order_by(LabRun.id).limit(1)).first()


def active_run(db: Session, learner_id: int) -> LabRun | None:
    query = select(LabRun).where(LabRun.learner_id == learner_id, LabRun.status.in_(ACTIVE))
    return db.scalars(query.limit(1)).first()


def ensure_idle(db: Session, learner_id: int) -> None:
    if run := active_run(db, learner_id):
        raise RunInProgressError(run.public_id)


def new_run(
    db: Session,
    learner_id: int | None,
    config: LabConfig,
    *,
    task: bool,
    torch_version: str,
    code: str | None = None,
    cached: LabRun | None = None,
    public_id: str | None = None,
    owner: str | None = None,
) -> LabRun:
    """`public_id`: chosen beforehand (new_public_id) when the runner has already been given
    it as the run's handle; else chosen here. `owner`: the process that follows the run (its
    hold starts now)."""
    run = LabRun(
        public_id=public_id or new_public_id(),
        learner_id=learner_id,
        config=config.model_dump(mode="json"),
        config_key=config.key(torch_version, code),
        torch_version=torch_version,
        task=task,
        code=code,
        epochs=[],
        owner=owner,
        lease_until=lease_end() if owner else None,
    )
    if cached is not None:  # an identical run already trained: same numbers, served at once
        run.status, run.epochs, run.outcome = "done", list(cached.epochs), cached.outcome
        run.cached_from_id, run.duration_s, run.finished_at = cached.id, 0.0, utcnow()
    try:
        with db.begin_nested():
            db.add(run)
    except IntegrityError:
        # Two starts at once both found the learner idle (ensure_idle): the database's index
        # of active runs (app.lab.models) lets one in. The other is refused as ensure_idle
        # would have, now that it sees the run that won.
        if learner_id is not None:
            ensure_idle(db, learner_id)
        raise
    return run


def new_finished_run(
    db: Session,
    config: LabConfig,
    torch_version: str,
    epochs: list[dict[str, Any]],
    outcome: dict[str, Any],
) -> LabRun:
    """A reference run measured elsewhere with this torch (app.lab.references), stored done."""
    run = new_run(db, None, config, task=False, torch_version=torch_version)
    run.status, run.epochs, run.outcome = "done", epochs, outcome
    run.duration_s = round(sum(e["seconds"] for e in epochs), 3)
    run.finished_at = utcnow()
    db.flush()
    return run


def new_public_id() -> str:
    return str(uuid.uuid4())


def discard(db: Session, run_id: int) -> None:
    """A run the runner refused to start: it leaves no trace in the learner's runs."""
    run = db.get(LabRun, run_id)
    if run is not None:
        db.delete(run)


def set_job(db: Session, run_id: int, job: int) -> None:
    run = db.get(LabRun, run_id)
    assert run is not None
    run.job_id = job


# How long a run's hold lasts unless renewed; its holder renews it four times as often.
LEASE_SECONDS = 60


def lease_end() -> datetime:
    return utcnow() + timedelta(seconds=LEASE_SECONDS)


def renew_leases(db: Session, owner: str) -> int:
    """The holder `owner` is alive: its active runs' holds last another LEASE_SECONDS."""
    renewed = db.execute(
        update(LabRun)
        .where(LabRun.owner == owner, LabRun.status.in_(ACTIVE))
        .values(lease_until=lease_end())
    )
    return int(renewed.rowcount)  # type: ignore[attr-defined]


# Why a run whose holder died ends when no one can take it over (Lapsed): it had no job yet,
# or this process's runner cannot reach its job (an embedded runner: its job died with the
# process that started it). A run with a job that a neighbour's runner can reach is taken over
# by that neighbour instead, and its readers see no difference.
HOLDER_GONE = "the server that was following it stopped; run it again"
# A learner's own model streams its output to the process that started it alone (its stream
# cannot be opened again elsewhere): it ends with its holder.
CODE_HOLDER_GONE = (
    "the server that was following it stopped, and a run of your own model cannot be "
    "followed by another server; run it again"
)


@dataclass(frozen=True)
class Lapsed:
    """What one round over the runs whose holder died did (fail_lapsed): those the caller
    took over (to follow their jobs), and those it marked failed."""

    adopted: list[LabRun]
    failed: list[LabRun]


def fail_unfinished(db: Session) -> int:
    """Runs left queued or running by a process that died, marked failed: see fail_lapsed."""
    return len(fail_lapsed(db).failed)


def fail_lapsed(db: Session, *, besides: str | None = None, adopt: bool = False) -> Lapsed:
    """Runs left queued or running by a process that died: those whose hold has lapsed, or
    that had none (made before holds were kept). A run another live process follows keeps its
    hold fresh, and is left alone; so are the runs of `besides` (the caller). With `adopt`
    (the caller's runner can reach a job another process started), a run with a training job
    becomes the caller's, its hold fresh, for it to follow; the others are marked failed.
    Locked as they are read (PostgreSQL), skipping any another process holds at this moment,
    so two live neighbours never both end or take one run."""
    lapsed = (LabRun.lease_until.is_(None)) | (LabRun.lease_until < utcnow())
    query = select(LabRun).where(LabRun.status.in_(ACTIVE), lapsed)
    if besides is not None:
        query = query.where((LabRun.owner.is_(None)) | (LabRun.owner != besides))
    found = Lapsed([], [])
    for run in db.scalars(query.with_for_update(skip_locked=True)):
        if adopt and besides is not None and run.job_id is not None and run.code is None:
            run.owner, run.lease_until = besides, lease_end()
            found.adopted.append(run)
            continue
        message = CODE_HOLDER_GONE if run.code is not None else HOLDER_GONE
        apply_event(db, run.id, {"type": "failed", "message": message})
        found.failed.append(run)
    db.flush()
    return found


def changes(run: LabRun) -> int:
    """How many changes the run has been through: its start, each epoch, its end. Each change
    is committed with the run, so this count, read from the run alone, is a reader's place in
    its live events (their `id`, app.lab.feed): epoch k is change k + 1, and the end is change
    len(epochs) + 2 (a run that ends before it starts skips its start's number)."""
    started = run.status != "queued"
    return len(run.epochs) + int(started) + int(run.status in FINISHED)


def apply_event(db: Session, run_id: int, event: dict[str, Any]) -> LabRun:
    """One event from the runner's job, recorded on the run, once. A finished run is final: a
    late event for it (its holder's, after a neighbour found the hold lapsed) changes nothing.
    An epoch already recorded, or a start of a run already running, changes nothing either:
    a neighbour that takes over a run (fail_lapsed) reads its job again from the start, and
    a holder thought dead may still be reading it too. Reading from the start, told what is
    known already here, is simpler than resuming at an index: the runners count a job's
    events differently (a queued event or not, a job run again), the run's row does not."""
    run = db.get(LabRun, run_id, with_for_update=True)  # one writer at a time (PostgreSQL)
    assert run is not None
    kind = event["type"]
    if run.status in FINISHED or _known(run, event):
        return run
    if kind == "started":
        run.status = "running"
    elif kind == "epoch":
        run.status = "running"  # trained by a started run, whether the start was said or not
        run.epochs = [*run.epochs, {k: v for k, v in event.items() if k != "type"}]
    elif kind in FINISHED:
        run.status = "done" if kind == "done" else kind
        run.outcome = event.get("outcome")
        run.message = event.get("message") or event.get("limit")
        run.finished_at = utcnow()
        run.duration_s = round(sum(e["seconds"] for e in run.epochs), 3)
    db.flush()
    return run


def _known(run: LabRun, event: dict[str, Any]) -> bool:
    """Whether the run has recorded this start or epoch already."""
    if event["type"] == "started":
        return run.status == "running"
    if event["type"] == "epoch":
        return any(e.get("epoch") == event.get("epoch") for e in run.epochs)
    return False


def get_run(db: Session, learner_id: int | None, public_id: str) -> LabRun:
    """A learner's own run; anyone's reference run. Another learner's run is not found."""
    run = db.scalar(select(LabRun).where(LabRun.public_id == public_id))
    if run is None or (run.learner_id is not None and run.learner_id != learner_id):
        raise NotFoundError(f"no lab run '{public_id}'", field="run")
    return run


def list_runs(
    db: Session, learner_id: int | None, limit: int, offset: int
) -> tuple[int, list[LabRunOut]]:
    if learner_id is None:
        return 0, []
    mine = select(LabRun).where(LabRun.learner_id == learner_id)
    total = db.scalar(select(func.count()).select_from(mine.subquery())) or 0
    rows = db.scalars(mine.order_by(LabRun.id.desc()).limit(limit).offset(offset))
    return total, [view(row) for row in rows]


def view(run: LabRun) -> LabRunOut:
    config = LabConfig.model_validate(run.config)
    outcome = run.outcome or {}
    # A learner's own model is counted when it has been built (in the sandbox).
    parameters = outcome.get("parameters") if run.code else parameter_count(config)
    verdict = judge(outcome) if run.task and run.status == "done" else []
    return LabRunOut(
        id=run.public_id,
        status=run.status,
        config=config,
        task=run.task,
        code=run.code,
        parameters=parameters or 0,
        size_ratio=round((parameters or 0) / parameter_count(BASELINE), 3),
        epochs=[EpochOut.model_validate(e) for e in run.epochs],
        best_epoch=outcome.get("best_epoch"),
        train_accuracy=outcome.get("train_accuracy"),
        val_accuracy=outcome.get("val_accuracy"),
        stopped_early=bool(outcome.get("stopped_early")),
        verdict=verdict,
        passed=all(c.passed for c in verdict) if verdict else None,
        message=run.message,
        output=outcome.get("output"),
        output_truncated=bool(outcome.get("output_truncated")),
        cached=run.cached_from_id is not None,
        torch_version=run.torch_version,
        duration_s=run.duration_s,
        created_at=as_utc(run.created_at),  # SQLite hands back naive datetimes
        finished_at=as_utc(run.finished_at) if run.finished_at else None,
    )


def judge(outcome: dict[str, Any]) -> list[Criterion]:
    """Pass or fail on each criterion of the task, saying by how much."""
    val, train, count = outcome["val_accuracy"], outcome["train_accuracy"], outcome["parameters"]
    ratio = count / parameter_count(BASELINE)
    return [
        _at_least("Validation accuracy", val, TASK.min_val_accuracy),
        _below("Training accuracy", train, TASK.max_train_accuracy),
        Criterion(
            name=f"Model size at most {TASK.max_size_ratio:g}x the baseline",
            passed=ratio <= TASK.max_size_ratio,
            detail=f"{count:,} parameters, {ratio:.2f}x the baseline",
        ),
    ]


def _at_least(name: str, value: float, floor: float) -> Criterion:
    gap = (value - floor) * 100
    detail = f"{value:.1%}: " + (
        f"{gap:.1f} points above {floor:.0%}"
        if gap >= 0
        else f"{-gap:.1f} points short of {floor:.0%}"
    )
    return Criterion(name=f"{name} at least {floor:.0%}", passed=gap >= 0, detail=detail)


def _below(name: str, value: float, ceiling: float) -> Criterion:
    gap = (ceiling - value) * 100
    detail = f"{value:.1%}: " + (
        f"{gap:.1f} points below {ceiling:.0%}"
        if gap > 0
        else f"{-gap:.1f} points over {ceiling:.0%}"
    )
    return Criterion(name=f"{name} below {ceiling:.0%}", passed=gap > 0, detail=detail)


# --- the reference runs behind the page's figures ---


def reference_configs() -> list[tuple[str, LabConfig]]:
    return [
        (name, preset.model_copy(update={"seed": seed}))
        for name, preset in REFERENCES.items()
        for seed in REFERENCE_SEEDS
    ]


def reference_figures(db: Session, torch_version: str) -> dict[str, ReferenceFigures]:
    """Each preset's figures over the reference seeds, once all its runs are done (one query
    for all of them: every lab page shows these)."""
    keys = {
        (name, seed): preset.model_copy(update={"seed": seed}).key(torch_version)
        for name, preset in REFERENCES.items()
        for seed in REFERENCE_SEEDS
    }
    query = select(LabRun).where(LabRun.config_key.in_(keys.values()), LabRun.status == "done")
    done: dict[str, LabRun] = {}
    for run in db.scalars(query.order_by(LabRun.id.desc())):
        done[run.config_key] = run  # newest first: the oldest is kept, the one the cache serves
    figures = {}
    for name, preset in REFERENCES.items():
        runs = [done.get(keys[name, seed]) for seed in REFERENCE_SEEDS]
        if all(runs):
            figures[name] = _summary(name, preset, [r for r in runs if r])
    return figures


def _summary(name: str, preset: LabConfig, runs: Sequence[LabRun]) -> ReferenceFigures:
    train = [r.outcome["train_accuracy"] for r in runs if r.outcome]
    val = [r.outcome["val_accuracy"] for r in runs if r.outcome]
    durations = [r.duration_s for r in runs if r.duration_s]
    return ReferenceFigures(
        preset=name,
        config=preset,
        parameters=parameter_count(preset),
        seeds=list(REFERENCE_SEEDS),
        train_mean=statistics.fmean(train),
        train_std=statistics.pstdev(train),
        train_min=min(train),
        train_max=max(train),
        val_mean=statistics.fmean(val),
        val_std=statistics.pstdev(val),
        val_min=min(val),
        val_max=max(val),
        duration_mean=statistics.fmean(durations) if durations else None,
        runs=[r.public_id for r in runs],
    )
