"""Prometheus metrics at /metrics: HTTP requests by route template, the runner's queue depth and
the outbox's backlog asked at scrape time, and who may read them (loopback, or the token)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from app.core.db import Database, utcnow
from app.core.metrics import Scraped, outbox_backlog
from app.main import create_app
from app.outbox.models import OutboxMessage
from tests.conftest import make_settings

LOOPBACK = ("127.0.0.1", 40000)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_to(found: Samples, handler: str) -> float:
    return sum(
        value
        for (name, labels), value in found.items()
        if name == "http_requests_total" and ("handler", handler) in labels
    )


def test_requests_are_counted_by_route_template_never_by_raw_path(app: FastAPI) -> None:
    local = TestClient(app, client=LOOPBACK)
    before = samples(local.get("/metrics").text)
    for slug in ("no-such-question-1", "no-such-question-2"):
        assert local.get(f"/api/v1/questions/{slug}").status_code == 404
    local.get("/made/up/path")

    text = local.get("/metrics").text
    after = samples(text)

    template = "/api/v1/questions/{question_id}"
    assert requests_to(after, template) - requests_to(before, template) == 2
    assert requests_to(after, "none") - requests_to(before, "none") == 1  # no route: one series
    assert "no-such-question" not in text and "/made/up" not in text
    assert (
        "http_requests_total",
        (("handler", template), ("method", "GET"), ("status", "4xx")),
    ) in after
    assert any(name == "http_request_duration_seconds_bucket" for name, _ in after)


def test_probes_static_files_and_the_metrics_themselves_are_not_counted(app: FastAPI) -> None:
    local = TestClient(app, client=LOOPBACK)
    for path in ("/healthz", "/readyz", "/static/css/site.css", "/metrics"):
        local.get(path)

    text = local.get("/metrics").text

    for path in ("/healthz", "/readyz", "/static", "/metrics"):
        assert f'handler="{path}' not in text


def test_the_runners_queue_depth_is_asked_at_scrape_time(app: FastAPI) -> None:
    """The session's app has a real (embedded-style) runner: its lanes' queues, empty now."""
    found = samples(TestClient(app, client=LOOPBACK).get("/metrics").text)

    for queue in ("snippet", "lab_code", "training"):
        assert found[("torchquiz_runner_queue_depth", (("queue", queue),))] == 0


def test_the_outbox_backlog_is_counted_by_kind_with_the_oldest_age(
    connection: Connection, db: Session
) -> None:
    now = utcnow()
    for kind, status, age in [
        ("ags_score", "pending", 30),
        ("ags_score", "pending", 5),
        ("webhook", "pending", 120),
        ("webhook", "dead", 900),
        ("webhook", "delivered", 60),  # done: not backlog
    ]:
        db.add(
            OutboxMessage(
                kind=kind, payload={}, status=status, created_at=now - timedelta(seconds=age)
            )
        )
    db.flush()
    assert sorted((k, s, n) for k, s, n, _ in outbox_backlog(db)) == [
        ("ags_score", "pending", 2),
        ("webhook", "dead", 1),
        ("webhook", "pending", 1),
    ]

    sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    state = SimpleNamespace(database=Database(sessions), runner=None, redis_health=None)
    scraped = Scraped(SimpleNamespace(state=state))  # type: ignore[arg-type]
    asyncio.run(scraped.refresh())
    found = {
        (sample.name, tuple(sample.labels.values())): sample.value
        for family in scraped.collect()
        for sample in family.samples
    }

    assert found[("torchquiz_outbox_pending_messages", ("ags_score",))] == 2
    assert found[("torchquiz_outbox_pending_messages", ("webhook",))] == 1
    assert found[("torchquiz_outbox_dead_messages", ("webhook",))] == 1
    assert 30 <= found[("torchquiz_outbox_oldest_pending_seconds", ("ags_score",))] < 60
    assert 120 <= found[("torchquiz_outbox_oldest_pending_seconds", ("webhook",))] < 150


def test_a_caller_not_on_this_machine_is_refused_without_the_token(app: FastAPI) -> None:
    remote = TestClient(app, client=("203.0.113.9", 40000), base_url="http://testserver")
    refused = remote.get("/metrics")
    # A proxy on this machine passing a remote request on: not a local caller either.
    forwarded = TestClient(app, client=LOOPBACK).get(
        "/metrics", headers={"X-Forwarded-For": "203.0.113.9"}
    )

    assert refused.status_code == 403
    assert "TORCHQUIZ_METRICS_TOKEN" in refused.text
    assert "torchquiz_" not in refused.text
    assert forwarded.status_code == 403


def test_the_metrics_token_lets_a_remote_scraper_in_and_a_wrong_one_is_401(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(database_url, tmp_path, metrics_token="scrape-me-0123456789")
    app = create_app(settings)  # not started: /metrics needs nothing of the start-up
    remote = TestClient(app, client=("203.0.113.9", 40000))

    allowed = remote.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
    wrong = remote.get("/metrics", headers={"Authorization": "Bearer guess"})
    missing = remote.get("/metrics")

    assert allowed.status_code == 200
    assert allowed.headers["content-type"].startswith("text/plain")
    assert "torchquiz_training_runs_active 0.0" in allowed.text
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert missing.status_code == 403
