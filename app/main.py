"""The app factory: settings -> engine -> migrations -> bank sync -> routes, then it serves.

Start-up does only what every page needs (migrations and the bank sync) and serves at once.
Whatever waits on the code runner happens afterwards in the background (`warm_up`): the runner
warms its workers meanwhile, runs are refused with 503 and Retry-After until it is ready, and
parameterised questions join the catalog once their variants are known. /readyz says when all
of that is done.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from app.accounts.service import SignInLimits
from app.bank.loader import Bank, load_bank
from app.core import faults, handlers, metrics, otel, security, shutdown
from app.core.clients import ClientAddressMiddleware
from app.core.config import PROJECT_DIR, Settings, get_settings
from app.core.cors import CorsMiddleware
from app.core.db import (
    Database,
    WalCheckpointer,
    create_db_engine,
    migrate_database,
    startup_lock,
)
from app.core.draining import Draining
from app.core.health import RedisHealth
from app.core.idempotency import Idempotency
from app.core.invalidations import Invalidations
from app.core.limiting import Limits
from app.core.request_id import RequestIdMiddleware
from app.lab.feed import feed_of
from app.lab.running import Lab, start_lab
from app.learners.deps import verify_account
from app.learners.identity import LearnerCookieMiddleware, LearnerTokens
from app.learners.service import NewLearnerLimit
from app.learners.sessions import LiveSessions
from app.lti import passback
from app.lti.ancestors import PlatformOrigins
from app.operations.purge import Purger
from app.outbox.delivery import Outbox
from app.questions.catalog import Catalog, CourseTopics
from app.questions.sync import sync_bank
from app.questions.variants import materialize, without_templates
from app.reports.automatic import record_error
from app.routes import include_all
from app.runner.client import (
    OFF_HERE,
    URL_OFF,
    Runner,
    RunnerState,
    embedded_socket,
    installed_torch,
)
from app.runner.connect import runner_at
from app.study.service import StudyContent
from app.tokens.auth import ApiTokens
from app.tokens.origins import OriginRegistry
from app.webhooks import listeners as webhooks

log = logging.getLogger("torchquiz")


def prepare(settings: Settings) -> tuple[Catalog, Bank]:
    """Migrate, then sync the bank. Raises BankInvalidError (with every problem) on a bad bank."""
    bank = load_bank(settings.questions_dir)  # validate before touching the database
    engine = create_db_engine(settings.database_url)
    try:
        with startup_lock(engine):  # other processes starting now wait, then only read
            migrate_database(settings.database_url, engine)
            with Database.on(engine).transaction() as db:
                catalog, report = sync_bank(db, bank)
    finally:
        engine.dispose()
    if report.new_versions or report.retired:
        log.info("bank sync: %d new versions, retired %s", len(report.new_versions), report.retired)
    return catalog, bank


def runner_of(settings: Settings) -> Runner | None:
    """The client of the configured runner; None when running code is off (empty URL: no
    runner was started for this app; "off": the operator said so). A redis:// URL: runner
    services take jobs from that Redis (app.runner.queue_client)."""
    if settings.runner_url in ("", URL_OFF):
        return None
    # The runner `torchquiz serve` started for this instance runs this install: it is still
    # starting until its socket answers, and its torch version is known without asking it.
    embedded = settings.runner_url == f"unix://{embedded_socket(settings.instance_dir)}"
    return runner_at(
        settings.runner_url,
        token=settings.runner_token,
        prefix=settings.redis_prefix,
        embedded=embedded,
    )


async def warm_up(app: FastAPI, catalog: Catalog) -> None:
    """After start-up, while the app serves: the lab's own start; the parameterised questions'
    stored variants as soon as the runner's torch version is known (at once for the embedded
    runner, which runs this install; a separate one says in its /healthz, warm or not); then,
    once the runner is ready, the missing variants computed in its sandbox. The lab's reference
    runs likewise: the shipped ones stored as soon as torch is known, any missing measured."""
    database, lab = app.state.database, app.state.lab
    runner: Runner | None = app.state.runner
    await start_lab(lab)
    if runner is not None:
        torch = installed_torch() if runner.embedded else (await runner.heard()).torch
        if torch:
            lab.torch_version = torch
            await lab.keep_references()
            app.state.catalog = await materialize(catalog, database, None, torch, final=False)
    state: RunnerState = await runner.settled() if runner else app.state.runner_state
    lab.torch_version = state.torch or ""
    if runner is not None and state.ready:
        await lab.keep_references()
        app.state.catalog = await materialize(catalog, database, runner, state.torch)
    else:  # running code is off: whatever was stored, by any torch
        app.state.catalog = await materialize(catalog, database, None, None)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catalog, bank = prepare(settings)
        # Course banks' topics: read when asked, forgotten in every process on a change.
        catalog.course_topics = CourseTopics(app.state.invalidations)
        await app.state.invalidations.start()  # caches hear other processes' changes
        app.state.catalog = without_templates(catalog)  # until their variants are known
        app.state.study = StudyContent.of(bank)  # the study modes' bugs and worked series
        checkpointer = None
        if path := settings.sqlite_file():
            checkpointer = WalCheckpointer(path)
            checkpointer.start()
        engine = create_db_engine(settings.database_url, background_checkpoints=bool(checkpointer))
        in_threads = not settings.routes_on_event_loop()
        app.state.database = Database.on(engine, run_in_threads=in_threads)
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = settings.route_threads()
        runner = app.state.runner = runner_of(settings)
        app.state.runner_state = runner.state if runner else RunnerState("off", reason=OFF_HERE)
        app.state.lab = Lab(
            app.state.database,
            runner,
            new_learners=app.state.new_learners,
            feed=feed_of(settings),  # live events through Redis when there is one (app.lab.feed)
        )
        background = [asyncio.create_task(runner.monitor())] if runner else []
        app.state.warm_up = asyncio.create_task(warm_up(app, catalog))
        app.state.warm_up.add_done_callback(_log_failure)
        # Everything loaded so far lives as long as the process: keep it out of the cyclic
        # collector's full scans, which paused requests for 80-90 ms under load. Not collected
        # first: that cost 0.14 s before the first page to free a few thousand objects (of
        # 210,000), which are kept instead. `serve` turns the collector off while it starts.
        gc.freeze()
        gc.enable()
        # Messages to other systems (webhooks, LMS grades), delivered in the background.
        app.state.outbox = Outbox(app.state.database, settings, sqlite_file=settings.sqlite_file())
        await app.state.outbox.start()
        # Old rows (finished outbox messages, expired logins and keys), once an hour.
        app.state.purger = Purger(app.state.database, settings)
        app.state.purger.start()
        # Operations: Redis's health (/readyz, /metrics); SIGTERM starts draining (app.core.
        # shutdown), which stops the outbox taking messages.
        if app.state.redis_health is not None:
            background.append(asyncio.create_task(app.state.redis_health.monitor()))
        background.append(asyncio.create_task(_stop_outbox_when_draining(app)))
        undo_signal = shutdown.on_terminate(app.state.draining, settings.drain_seconds)
        yield
        undo_signal()
        app.state.draining.start()
        await app.state.outbox.stop()
        await app.state.purger.stop()
        for task in [*background, app.state.warm_up]:
            task.cancel()
        await app.state.lab.close()
        if runner:
            await runner.aclose()
        await app.state.invalidations.stop()
        await app.state.limits.aclose()
        engine.dispose()
        if checkpointer:
            checkpointer.stop()

    app = FastAPI(
        title="torchquiz",
        version="1.0.0",
        summary="Practice questions, scored tests and progress for learning PyTorch.",
        lifespan=lifespan,
        dependencies=[Depends(verify_account)],  # a signed-in browser's session is live
        docs_url=None,  # served from the package instead of a CDN: app.core.docs
        redoc_url=None,
        telemetry=otel.telemetry(settings),  # traces if configured, else off (app.core.otel)
    )
    app.state.settings = settings
    app.state.draining = Draining()  # set when the server is told to stop (app.core.shutdown)
    app.state.redis_health = RedisHealth(settings.redis_url) if settings.redis_url else None
    app.state.tokens = LearnerTokens(
        settings.signing_key(), account_max_age=settings.account_session_days * 24 * 3600
    )
    # Shared by every process of the site through Redis when it is configured, else in this
    # process: rate limits' counts (app.core.limiting), and what tells every process's caches
    # that something they keep changed (app.core.invalidations).
    limits = app.state.limits = Limits(settings.redis_url, settings.redis_prefix)
    shared = app.state.invalidations = Invalidations(settings.redis_url, settings.redis_prefix)
    app.state.sign_in_limits = SignInLimits(
        burst=settings.sign_in_burst,
        per_minute=settings.sign_in_per_minute,
        address_burst=settings.sign_in_address_burst,
        address_per_minute=settings.sign_in_address_per_minute,
        limits=limits,
    )
    # Signed-in sessions and API tokens found live, kept for seconds; the tokens' rate limits.
    app.state.live_sessions = LiveSessions(shared=shared)
    app.state.api_tokens = ApiTokens(shared=shared, limits=limits)
    # The origins CORS allows (tokens' and courses' lists).
    app.state.origins = OriginRegistry(shared=shared)
    app.state.new_learners = NewLearnerLimit(
        burst=settings.new_learners_burst,
        per_minute=settings.new_learners_per_minute,
        limits=limits,
    )
    # Inside the next: it needs the caller's identity; a replay only to a caller still live.
    app.add_middleware(Idempotency, verify=verify_account)
    app.add_middleware(
        LearnerCookieMiddleware,
        tokens=app.state.tokens,
        secure=settings.environment == "production",
    )
    app.add_middleware(
        ClientAddressMiddleware, trusted=settings.trusted_proxies, header=settings.proxy_header
    )
    app.add_middleware(CorsMiddleware, policy=app.state.origins)  # inside the security layers
    # LMSs registered for LTI may show our pages in their frames (CSP frame-ancestors).
    app.state.lti_origins = PlatformOrigins(shared=shared)
    security.install(app, settings, extra_ancestors=app.state.lti_origins)
    metrics.install(app, token=settings.metrics_token)  # HTTP metrics, and GET /metrics
    # Outermost: every response carries X-Request-ID, and it sees the socket's peer.
    app.add_middleware(RequestIdMiddleware, trusted=settings.trusted_proxies)
    handlers.register(app)
    include_all(app)
    faults.on_question_error(record_error)  # a question that fails to grade or render: reported
    webhooks.install()  # course webhooks: their deliverer, and the events they send
    passback.install()  # LTI grade passback: attempts -> outbox -> the LMS's gradebook
    app.mount("/static", StaticFiles(directory=PROJECT_DIR / "static"), name="static")
    return app


async def _stop_outbox_when_draining(app: FastAPI) -> None:
    await app.state.draining.wait()
    await app.state.outbox.stop()  # its leased messages go back when their lease runs out


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()):
        log.error("the start-up's background work failed: %r", exc, exc_info=exc)
