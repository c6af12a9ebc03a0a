"""The app's own Prometheus metrics, defined once here and updated where things happen (the
runner's client, the lab, the outbox). Served at /metrics with the HTTP metrics of
prometheus-fastapi-instrumentator. Names follow Prometheus' conventions: a unit suffix, a
`_total` suffix on counters.

- Counted where things happen: the runs (RUNS, RUN_LIMITS, RUN_SECONDS) and lab runs active
  (TRAINING_ACTIVE), and the HTTP requests: prometheus-fastapi-instrumentator's metrics
  (http_requests_total, http_request_duration_seconds...) by route template
  (`/api/v1/questions/{question_id}`, never the raw path; "none" for a path no route matches;
  /metrics, /static, /healthz and /readyz not counted). `HttpMetrics` feeds them the template
  the router chose, read after the request: the instrumentator's own middleware matches every
  request against every route again first, 0.3 to 0.9 ms a request here (measured).
- Asked at scrape time (`Scraped`, kept CACHE_SECONDS so that frequent scrapes cost nothing):
  the runner's queue depth, the outbox's backlog by kind, whether Redis answers.

Several processes (`torchquiz serve --workers N`) share one port, and a scrape reaches any one
of them: `serve` then sets PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode)
and every process answers for all (counters summed, TRAINING_ACTIVE summed over live
processes). One process per pod or container (Kubernetes, compose replicas) is scraped as its
own target, as usual, without it.

Who may read /metrics (`check_access`): callers on this machine (loopback, not forwarded by a
proxy), and anyone sending TORCHQUIZ_METRICS_TOKEN as a bearer token.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import metrics as http_metrics
from sqlalchemy import DateTime, String, column, func, select, table
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db import as_utc
from app.core.errors import ForbiddenError, UnauthorizedError

log = logging.getLogger("torchquiz")

# A run's end, by kind (snippet, check, lab_code, playground, training...) and outcome: "ok",
# "error" (the learner's code raised), "limit" (a sandbox limit stopped it), "refused" (429 or
# 503 before it ran), "failed" (the runner could not make it).
RUNS = Counter("torchquiz_runs_total", "Runs by kind and outcome.", ["kind", "outcome"])
# Which sandbox limit stopped a run (time, memory, output, processes...).
RUN_LIMITS = Counter("torchquiz_run_limits_total", "Runs stopped by a limit.", ["kind", "limit"])
# From the request to the result, queueing included.
RUN_SECONDS = Histogram(
    "torchquiz_run_seconds",
    "Run latency, from the request to its result.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TRAINING_ACTIVE = Gauge(
    "torchquiz_training_runs_active",
    "Lab runs queued or running.",
    multiprocess_mode="livesum",  # with several processes: the sum over those alive
)

# HTTP metrics, made once per process (made again they would clash in the registry, and the
# instrumentator would quietly count nothing for a second app, as the tests make).
HTTP = http_metrics.default(
    latency_lowr_buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Paths not counted: the metrics themselves, static files and the probes.
NOT_COUNTED = ("/metrics", "/static/", "/healthz", "/readyz")

# The values asked for at scrape time are kept this long.
CACHE_SECONDS = 5.0
QUEUE_DEPTH = "torchquiz_runner_queue_depth"
OUTBOX_PENDING = "torchquiz_outbox_pending_messages"
OUTBOX_OLDEST = "torchquiz_outbox_oldest_pending_seconds"
OUTBOX_DEAD = "torchquiz_outbox_dead_messages"
REDIS_UP = "torchquiz_redis_up"
# Headers a proxy adds: a request that carries one came through a proxy, not from this machine.
FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


class QueueDepth(Protocol):
    """What a runner client offers /metrics: the jobs waiting in its queues, by queue name
    ("snippet", "lab_code", "training"): the embedded runner's lanes, or Redis streams."""

    async def queue_depth(self) -> dict[str, int]: ...


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def install(app: FastAPI, *, token: str) -> None:
    """HTTP metrics on every request (middleware), and GET /metrics."""
    if HTTP is not None:
        app.add_middleware(HttpMetrics, observe=HTTP)
    scraped = Scraped(app)
    own = CollectorRegistry(auto_describe=False)
    own.register(scraped)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus' text format: the counted metrics, then those asked for now."""
        check_access(request, token)
        await scraped.refresh()
        body = generate_latest(counted_registry()) + generate_latest(own)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


class HttpMetrics:
    """Pure ASGI: times each request and hands the instrumentator's metrics (`observe`) the
    route template, the method, the status class ("2xx") and the sizes, once the response is
    sent (an event stream's whole life, for SSE)."""

    def __init__(self, app: ASGIApp, *, observe: Any) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NOT_COUNTED):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        first_byte = 0.0
        status, headers = 500, []

        async def timed_send(message: Message) -> None:
            nonlocal status, headers, first_byte
            if message["type"] == "http.response.start":
                status, headers = message["status"], message.get("headers", [])
                first_byte = time.perf_counter() - started
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.observe(
                http_metrics.Info(
                    request=StarletteRequest(scope),
                    response=_Sent(Headers(raw=headers)),  # type: ignore[arg-type]
                    method=scope["method"],
                    modified_handler=route_template(scope),
                    modified_status=f"{str(status)[0]}xx",
                    modified_duration=time.perf_counter() - started,
                    modified_duration_without_streaming=first_byte,
                )
            )


class _Sent:
    """What the instrumentator reads of a response: its headers (Content-Length)."""

    def __init__(self, headers: Headers) -> None:
        self.headers = headers


def route_template(scope: Scope) -> str:
    """The path template of the route that served the request, with its router's prefix
    (FastAPI keeps that in the effective route context of an included router); "none" if no
    route matched (a 404), so that made-up paths add no series."""
    context = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path_format", None)
    if template is None:
        template = getattr(scope.get("route"), "path_format", None)
    return template if isinstance(template, str) else "none"


def counted_registry() -> CollectorRegistry:
    """This process's registry, or every process's in multiprocess mode."""
    if not multiprocess():
        return REGISTRY
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def check_access(request: Request, token: str) -> None:
    """Loopback callers (not forwarded by a proxy on this machine), or the bearer token."""
    given = request.headers.get("authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return
    if token and given:
        error = UnauthorizedError("that is not the metrics token (TORCHQUIZ_METRICS_TOKEN)")
        error.headers = {"WWW-Authenticate": "Bearer"}
        raise error
    if _loopback(request.client.host if request.client else "") and not any(
        name in request.headers for name in FORWARDED
    ):
        return
    raise ForbiddenError(
        "the metrics are served to this machine only, or with the bearer token "
        "TORCHQUIZ_METRICS_TOKEN"
    )


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


# The outbox, as a lightweight table: the core knows no feature's models (app.outbox).
_outbox = table(
    "outbox", column("kind", String), column("status", String), column("created_at", DateTime)
)


def outbox_backlog(db: Session) -> list[tuple[str, str, int, datetime | None]]:
    """(kind, status, messages, oldest created) of the pending and dead messages: one grouped
    count on the (status, next_attempt_at) index."""
    rows = db.execute(
        select(_outbox.c.kind, _outbox.c.status, func.count(), func.min(_outbox.c.created_at))
        .where(_outbox.c.status.in_(("pending", "dead")))
        .group_by(_outbox.c.kind, _outbox.c.status)
    )
    return [(kind, status, count, oldest) for kind, status, count, oldest in rows]


class Scraped(Collector):
    """The values asked for at scrape time, from what the app holds in `app.state` (once its
    start-up has made it): the runner's client, the database, the Redis health check. A source
    that fails leaves its metrics out of that scrape (and says so in the log)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._at = -CACHE_SECONDS
        self._metrics: list[Metric] = []

    async def refresh(self) -> None:
        if time.monotonic() - self._at < CACHE_SECONDS:
            return
        self._metrics = [*await self._queue_depth(), *await self._outbox(), *self._redis()]
        self._at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)

    async def _queue_depth(self) -> Iterable[Metric]:
        runner: QueueDepth | None = getattr(self.app.state, "runner", None)
        if runner is None or not hasattr(runner, "queue_depth"):
            return []
        try:
            depths = await runner.queue_depth()
        except Exception as exc:  # unreachable, warming: no figure this time
            log.info("metrics: the runner's queue depth is unknown (%s)", exc)
            return []
        family = GaugeMetricFamily(
            QUEUE_DEPTH, "Jobs waiting in the runner's queues.", labels=["queue"]
        )
        for queue, depth in sorted(depths.items()):
            family.add_metric([queue], depth)
        return [family]

    async def _outbox(self) -> Iterable[Metric]:
        database: Any = getattr(self.app.state, "database", None)
        if database is None:
            return []
        try:
            rows = await database.run(outbox_backlog)
        except Exception as exc:  # the database is down: /readyz says so
            log.info("metrics: the outbox's backlog is unknown (%s)", exc)
            return []
        pending = GaugeMetricFamily(
            OUTBOX_PENDING, "Outbox messages waiting to be delivered, by kind.", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            OUTBOX_OLDEST, "Age of the oldest message waiting, by kind.", labels=["kind"]
        )
        dead = GaugeMetricFamily(
            OUTBOX_DEAD, "Outbox messages given up after their retries, by kind.", labels=["kind"]
        )
        now = datetime.now(UTC)
        for kind, status, count, first in rows:
            if status == "dead":
                dead.add_metric([kind], count)
                continue
            pending.add_metric([kind], count)
            if first is not None:
                oldest.add_metric([kind], max(0.0, (now - as_utc(first)).total_seconds()))
        return [pending, oldest, dead]

    def _redis(self) -> Iterable[Metric]:
        health = getattr(self.app.state, "redis_health", None)
        if health is None:
            return []
        return [
            GaugeMetricFamily(REDIS_UP, "1 if Redis answered its last PING.", 1 if health.ok else 0)
        ]
