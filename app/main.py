"""The app factory: settings -> engine -> migrations -> bank sync -> routes."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.bank.loader import load_bank
from app.core import handlers
from app.core.config import PROJECT_DIR, Settings, get_settings
from app.core.db import (
    WalCheckpointer,
    create_db_engine,
    migrate_database,
    session_factory,
    transaction,
)
from app.lab.running import start_lab
from app.learners.identity import LearnerCookieMiddleware, LearnerTokens
from app.questions.catalog import Catalog
from app.questions.sync import sync_bank
from app.questions.variants import materialize
from app.routes import include_all
from app.runner.client import RunnerClient, torch_version_of

log = logging.getLogger("torchquiz")


def prepare(settings: Settings) -> Catalog:
    """Migrate, then sync the bank. Raises BankInvalidError (with every problem) on a bad bank."""
    bank = load_bank(settings.questions_dir)  # validate before touching the database
    engine = create_db_engine(settings.database_url)
    try:
        migrate_database(settings.database_url, engine)
        for db in transaction(session_factory(engine)):
            catalog, report = sync_bank(db, bank)
    finally:
        engine.dispose()
    if report.new_versions or report.retired:
        log.info("bank sync: %d new versions, retired %s", len(report.new_versions), report.retired)
    return catalog


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.catalog = prepare(settings)
        checkpointer = None
        if path := settings.sqlite_file():
            checkpointer = WalCheckpointer(path)
            checkpointer.start()
        engine = create_db_engine(settings.database_url, background_checkpoints=bool(checkpointer))
        in_threads = not settings.routes_on_event_loop()
        app.state.session_factory = session_factory(engine, run_in_threads=in_threads)
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = settings.route_threads()
        # Everything loaded so far lives as long as the process: keep it out of the cyclic
        # collector's full scans, which paused requests for 80-90 ms under load.
        runner = settings.runner_url and RunnerClient(
            settings.runner_url, token=settings.runner_token
        )
        app.state.runner = runner or None
        factory = app.state.session_factory
        torch = await torch_version_of(app.state.runner)
        app.state.catalog = await materialize(app.state.catalog, factory, app.state.runner, torch)
        app.state.lab = await start_lab(factory, app.state.runner if torch else None, torch)
        gc.collect()
        gc.freeze()
        yield
        await app.state.lab.close()
        if runner:
            await runner.aclose()
        engine.dispose()
        if checkpointer:
            checkpointer.stop()

    app = FastAPI(
        title="torchquiz",
        version="1.0.0",
        summary="Practice questions, scored tests and progress for learning PyTorch.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tokens = LearnerTokens(settings.signing_key())
    app.add_middleware(
        LearnerCookieMiddleware,
        tokens=app.state.tokens,
        secure=settings.environment == "production",
    )
    handlers.register(app)
    include_all(app)
    app.mount("/static", StaticFiles(directory=PROJECT_DIR / "static"), name="static")
    return app
