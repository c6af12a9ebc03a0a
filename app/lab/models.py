"""Lab runs: one learner's training run (or a reference run of the page), stored whole."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import PUBLIC_ID_LENGTH
from app.core.db import Base, utcnow

# A run in these states holds the learner's one place (app.lab.service.ensure_idle).
ACTIVE = ("queued", "running")
ACTIVE_SQL = "status IN ('queued', 'running')"
OWNER_LENGTH = 80  # host name, process id and a random part


class LabRun(Base):
    __tablename__ = "lab_runs"
    __table_args__ = (
        # One active run per learner, held by the database itself: two requests at once would
        # both pass the service's check (migration 0006). Reference runs have no learner.
        Index(
            "uq_lab_runs_one_active_per_learner",
            "learner_id",
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, default=lambda: str(uuid.uuid4())
    )
    # None for the reference runs behind the page's own figures (baseline, solution, bonus).
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id"), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Config, seed and torch version: equal keys give equal numbers (the runs are deterministic).
    config_key: Mapped[str] = mapped_column(String(64), index=True)
    torch_version: Mapped[str] = mapped_column(String(40))
    task: Mapped[bool] = mapped_column(Boolean, default=True)  # judged against the task
    code: Mapped[str | None] = mapped_column(Text)  # the learner's own model (advanced mode)
    # queued, running, done, failed, stopped (a limit), cancelled
    status: Mapped[str] = mapped_column(String(12), default="queued")
    job_id: Mapped[int | None] = mapped_column(Integer)  # the runner's job
    epochs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    cached_from_id: Mapped[int | None] = mapped_column(ForeignKey("lab_runs.id"))
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # The server process following the run, and until when its hold lasts: it renews the hold
    # while it lives (app.lab.running), so only a run whose holder died is marked failed at a
    # start, never a neighbour's (app.lab.service.fail_unfinished).
    owner: Mapped[str | None] = mapped_column(String(OWNER_LENGTH))
    lease_until: Mapped[datetime | None]
