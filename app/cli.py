"""The `torchquiz` console command."""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from app.accounts.cli import users
from app.bank.formats.registry import NAMES as FORMAT_NAMES
from app.bank.loader import BankInvalidError, Problem, format_report, load_bank
from app.bank.report import SCHEMA_DIR, check_problems, editor_schemas
from app.core import logs, otel
from app.core.config import Settings, get_settings
from app.lti.cli import lti
from app.operations.cli import COMMANDS as OPERATIONS_COMMANDS
from app.outbox.cli import drain_now, outbox
from app.runner.client import URL_OFF, embedded_socket
from app.runner.embedded import embedded_runner
from app.runner.settings import ENV_PREFIX as RUNNER_ENV_PREFIX
from app.runner.settings import RunnerSettings
from app.study.checks import study_problems
from app.tokens.cli import tokens

# How `serve` runs uvicorn (the tests run their servers the same way).
SERVER_OPTIONS: dict[str, Any] = {
    "log_level": "info",
    "access_log": False,
    # uvloop starved some connections for over a second when routes run on the loop under
    # load (bench/http_load.py, p99); the standard loop stays fair.
    "loop": "asyncio",
    # The app finds the client's address itself (app.core.clients), believing forwarded
    # headers only from TORCHQUIZ_TRUSTED_PROXIES. uvicorn's own handling would believe them
    # from 127.0.0.1 (or FORWARDED_ALLOW_IPS) and rewrite the address before the app sees it.
    "proxy_headers": False,
    # Told to stop, uvicorn waits for open requests this long at most (then cancels them):
    # within Kubernetes' default 30 s grace, after TORCHQUIZ_DRAIN_SECONDS (app.core.shutdown).
    "timeout_graceful_shutdown": 20,
    # `--workers N`: uvicorn kills a worker that has not answered its health ping within this
    # many seconds; 5, its default, killed workers still starting on a busy machine, again and
    # again (the one holding the start-up lock blocks while it migrates).
    "timeout_worker_healthcheck": 60,
}


@click.group()
def main() -> None:
    """torchquiz: learn PyTorch by doing."""


def load_settings() -> Settings:
    """The settings, or exit saying what is wrong with them: each setting's name and message,
    never its value (the values hold the secret key, the admin token, the database password)."""
    try:
        return get_settings()
    except ValidationError as exc:
        click.echo(settings_problems(exc), err=True)
        sys.exit(1)


def load_runner_settings(**given: Any) -> RunnerSettings:
    """The runner's settings (TORCHQUIZ_RUNNER_*, where `given` does not say), or exit saying
    what is wrong with them, as load_settings does."""
    try:
        return RunnerSettings(**given)
    except ValidationError as exc:
        click.echo(settings_problems(exc, RUNNER_ENV_PREFIX), err=True)
        sys.exit(1)


def settings_problems(exc: ValidationError, prefix: str = "TORCHQUIZ_") -> str:
    lines = ["The settings are not valid:"]
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        name = "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"  {prefix}{name}: {message}" if name else f"  {message}")
    return "\n".join(lines)


@main.command()
@click.option("--host", default=None, help="Interface to bind (default from settings).")
@click.option("--port", default=None, type=int, help="Port (default from settings).")
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Migrate the database, sync the question bank and serve the app (and its code runner).

    Pages are served at once; the code runner (started here unless TORCHQUIZ_RUNNER_URL names
    one, or is `off`) warms up in the background, and /readyz says when it is ready."""
    settings = load_settings()
    if settings.environment == "production" and (problems := settings.production_problems(workers)):
        click.echo("\n  ".join(["The settings are not valid:", *problems]), err=True)
        sys.exit(1)
    host = host or settings.host
    port = port or settings.port
    try:
        load_bank(settings.questions_dir)  # refuse to start on a bad bank, with the full report
    except BankInvalidError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    try:
        otel.check(settings)  # traces asked for without the packages: say so before starting
    except otel.OtelUnavailableError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    try:
        _start(settings, host, port, workers)
    finally:
        gc.enable()  # off while the app started in this process


def _start(settings: Settings, host: str, port: int, workers: int) -> None:
    """The runner (unless there is one elsewhere, or none on purpose), then the app."""
    if workers == 1:  # the app starts in this process (else in uvicorn's workers)
        # Start-up builds some 200,000 objects that live as long as the process; the cyclic
        # collector would scan them again and again while they load (a fifth of the import
        # time, measured). Off until the app has started and frozen them (app.main).
        gc.disable()
        # The app's modules before the runner: its warm-up (four processes importing torch)
        # would share the cores with this import and delay the first page by up to a second
        # (bench/startup.py).
        importlib.import_module("app.main")
    with contextlib.ExitStack() as stack:
        if settings.runner_url == URL_OFF:
            click.echo("Running code is off (TORCHQUIZ_RUNNER_URL=off).")
        elif not settings.runner_url:
            click.echo("Starting the code runner; it warms up in the background.")
            socket = embedded_socket(settings.instance_dir)
            url = stack.enter_context(embedded_runner(socket, load_runner_settings(), wait=False))
            os.environ["TORCHQUIZ_RUNNER_URL"] = url  # for the app, in this and worker processes
            get_settings.cache_clear()
        click.echo(
            f"Starting torchquiz at http://{host}:{port}/  (database: {settings.safe_db_url})"
        )
        _serve_app(settings, host, port, workers)


def _serve_app(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    if workers > 1:
        _shared_metrics(settings.instance_dir / "metrics")
    # uvicorn, stopped by SIGTERM, stops gracefully and then raises the signal again with the
    # handler it found: exit cleanly (status 0, the runner stopped by the ExitStack above).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **SERVER_OPTIONS
        | {"access_log": settings.access_log, "log_config": logs.config(settings.log_format)},
    )


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


def _shared_metrics(folder: Path) -> None:
    """`--workers N`: one port, N processes, and a scrape reaches any one: they keep their
    metrics in files in `folder` (prometheus_client's multiprocess mode) and each answers for
    all (app.core.metrics). Emptied first: the files of an earlier run would add to the counts."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the operator's own choice
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)  # read by the workers at import


@main.command()
@click.option("--uds", type=click.Path(path_type=Path), help="Listen on this Unix socket.")
@click.option("--host", default=None, help="Interface to bind [default: TORCHQUIZ_RUNNER_HOST].")
@click.option("--port", default=None, type=int, help="Port [default: TORCHQUIZ_RUNNER_PORT].")
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "privileged", "rootless"]),
    default=None,
    help="auto: privileged where the kernel allows it (root), else rootless (user namespaces) "
    "[default: TORCHQUIZ_RUNNER_SANDBOX, auto].",
)
@click.option(
    "--queue",
    default=None,
    help="Also take jobs from this Redis job queue (redis://...), keys under "
    "TORCHQUIZ_RUNNER_REDIS_PREFIX [default: TORCHQUIZ_RUNNER_QUEUE, none].",
)
def runner(
    uds: Path | None, host: str | None, port: int | None, sandbox: str | None, queue: str | None
) -> None:
    """Run learner code in a sandbox, as a service (as root, or rootless in user namespaces).

    Everything else comes from the TORCHQUIZ_RUNNER_* settings (app.runner.settings; README,
    section "Configuration")."""
    import uvicorn

    from app.runner.sandbox import detect
    from app.runner.server import create_runner_app

    given = {"host": host, "port": port, "sandbox": sandbox, "queue": queue}
    settings = load_runner_settings(**{k: v for k, v in given.items() if v is not None})
    found = detect(settings.sandbox)
    click.echo(f"code runner: {found.mode} sandbox" if found.mode else found.reason, err=True)
    if settings.queue and found.mode is None:  # a queue runner without a sandbox takes no job
        click.echo("code runner: not taking jobs from the queue without a sandbox.", err=True)
        sys.exit(1)
    app = create_runner_app(settings, sandbox=found)
    os.umask(0o077)  # the socket: this user only
    location = {"uds": str(uds)} if uds else {"host": settings.host, "port": settings.port}
    log_config = logs.config(logs.env_format(), level="WARNING")
    signal.signal(signal.SIGTERM, _exit_cleanly)  # stopped gracefully: status 0, as `serve`
    uvicorn.run(app, **location, log_level="warning", loop="asyncio", log_config=log_config)


@main.group()
def questions() -> None:
    """Work with the question bank."""


@questions.command("check")
@click.argument("root", required=False, type=click.Path(path_type=Path))
@click.option("--run-checks", is_flag=True, help="Also run every `check` against real torch.")
def questions_check(root: Path | None, run_checks: bool) -> None:
    """Validate every question file; report every problem at once."""
    root = root or load_settings().questions_dir
    try:
        bank = load_bank(root)
    except BankInvalidError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    if run_checks:
        problems = check_problems(bank, root) + study_problems(bank, root)
        if problems:
            click.echo(format_report(problems), err=True)
            sys.exit(1)
    checked = sum(1 for t in bank.topics.values() for q in t.questions if q.question.check)
    studied = sum(len(t.bugs) + len(t.worked) for t in bank.topics.values())
    ran = f", {checked} checks hold against torch" if run_checks else ""
    if run_checks and studied:
        ran += f", and so do {studied} spot-the-bug and worked-example files"
    click.echo(f"OK: {len(bank.topics)} topic(s), {bank.question_count()} questions{ran}.")


@questions.command("verify")
@click.argument("root", required=False, type=click.Path(path_type=Path))
@click.option("--runner", "runner_url", default=None, help="A running runner; default: start one.")
@click.option(
    "--seeds", default=20, show_default=True, type=click.IntRange(1, 64), help="Seeds per template."
)
def questions_verify(root: Path | None, runner_url: str | None, seeds: int) -> None:
    """Verify every question through the sandbox runner: renders, grades its own answers, and
    every claim holds against torch; show each failing claim beside what really happened."""
    import asyncio

    from app.bank.verify import verify_questions
    from app.runner.connect import runner_at

    settings = load_settings()
    root = root or settings.questions_dir
    try:
        bank = load_bank(root)
    except BankInvalidError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    questions = [
        (q.path.name, q.question) for topic in bank.topics.values() for q in topic.questions
    ]

    async def verify(url: str) -> tuple[int, list[Problem]]:
        client = runner_at(url, token=settings.runner_token, prefix=settings.redis_prefix)
        try:
            return await verify_questions(questions, client, seeds=seeds)
        finally:
            await client.aclose()

    with contextlib.ExitStack() as stack:
        url = runner_url or settings.runner_url
        if not url:
            socket = settings.instance_dir / "verify.sock"
            url = stack.enter_context(embedded_runner(socket, load_runner_settings()))
        checked, problems = asyncio.run(verify(url))
    if problems:
        click.echo(format_report(problems), err=True)
        sys.exit(1)
    click.echo(f"OK: {checked} claims agree with torch (run in the sandbox).")


@questions.command("schema")
@click.option("--write", is_flag=True, help=f"Write the JSON Schemas to {SCHEMA_DIR}.")
def questions_schema(write: bool) -> None:
    """Print (or write) the JSON Schemas that editors use for question files."""
    for name, text in editor_schemas().items():
        if write:
            SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
            (SCHEMA_DIR / name).write_text(text)
            click.echo(f"wrote {SCHEMA_DIR / name}")
        else:
            click.echo(text)


@main.group()
def bank() -> None:
    """Export and import question banks: our YAML zip, Moodle XML, GIFT, QTI."""


_COURSE_HELP = "A course's bank (its address), in the database, instead of a bank folder."


@contextlib.contextmanager
def _course_bank(slug: str) -> Any:
    """(database session, course) for `--course`, in one transaction: committed when the
    block ends, rolled back when it raises or exits."""
    from app.core.db import Database, create_db_engine, migrate_database
    from app.core.errors import NotFoundError
    from app.courses.service import find_course

    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    try:
        migrate_database(settings.database_url, engine)
        with Database.on(engine).transaction() as db:
            try:
                course = find_course(db, slug)
            except NotFoundError as exc:
                click.echo(f"Cannot use --course: {exc.message}", err=True)
                sys.exit(2)
            yield db, course
    finally:
        engine.dispose()


def _course_export(fmt: str, slug: str) -> Any:
    from app.authoring.transfer import export_course

    with _course_bank(slug) as (db, course):
        return export_course(db, course, fmt)


def _course_import(file: Path, fmt: str, slug: str, dry_run: bool) -> None:
    """The same preview and apply as the import pages and API (app.authoring.transfer)."""
    from app.authoring.transfer import apply_import, preview_import
    from app.bank.formats.preview import format_preview
    from app.core.errors import AppError

    with _course_bank(slug) as (db, course):
        try:
            pending = preview_import(db, course, fmt, file.read_bytes(), file.name, user_id=None)
        except AppError as exc:
            click.echo(exc.message[:1].upper() + exc.message[1:], err=True)
            sys.exit(1)
        click.echo(f"Import of {file.name} into the course {slug}:")
        click.echo(format_preview(pending.preview))
        if not pending.preview.ok:
            sys.exit(1)
        if dry_run:
            db.rollback()
            return
        applied = apply_import(db, course, pending)
    click.echo(
        f"Imported {len(applied.created)} new question(s) as drafts and "
        f"{len(applied.changed)} new version(s) into {slug}."
    )


@bank.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMAT_NAMES))
@click.option("--output", required=True, type=click.Path(path_type=Path), help="File to write.")
@click.option("--topic", default=None, help="Only this topic (its folder name).")
@click.option(
    "--bank",
    "root",
    default=None,
    type=click.Path(path_type=Path),
    help="The bank folder [default: the shipped bank, TORCHQUIZ_QUESTIONS_DIR].",
)
@click.option("--course", default=None, help=_COURSE_HELP)
def bank_export(
    fmt: str, output: Path, topic: str | None, root: Path | None, course: str | None
) -> None:
    """Write the bank (or one topic) in a format; report what was skipped or carried weaker."""
    from app.bank.formats.registry import FormatError, export_bank

    if course is not None and (topic or root):
        click.echo("--course exports the course's bank: leave out --topic and --bank.", err=True)
        sys.exit(2)
    try:
        if course is not None:
            exported = _course_export(fmt, course)
        else:
            exported = export_bank(fmt, load_bank(root or load_settings().questions_dir), topic)
    except BankInvalidError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except FormatError as exc:
        click.echo(f"Cannot export: {exc}", err=True)
        sys.exit(2)
    output.write_bytes(exported.data)
    left = len(exported.skipped)
    click.echo(
        f"Wrote {output} ({fmt}): {left} question(s) skipped, "
        f"{len(exported.fallbacks)} carried in a fallback."
    )
    for item in exported.skipped:
        click.echo(f"  Skipped {item.question}: {item.reason}")
    for item in exported.fallbacks:
        click.echo(f"  Fallback {item.question}: {item.reason}")


@bank.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMAT_NAMES))
@click.option("--dry-run", is_flag=True, help="Only show what the import would do.")
@click.option(
    "--into",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the questions as YAML into this bank folder, laid out like questions/.",
)
@click.option("--course", default=None, help=_COURSE_HELP)
def bank_import(file: Path, fmt: str, dry_run: bool, into: Path | None, course: str | None) -> None:
    """Preview an import (what it creates, changes, leaves; its problems), then write it."""
    from app.bank.formats.preview import format_preview, preview
    from app.bank.formats.registry import FormatError, parse
    from app.bank.formats.safety import UnsafeFileError
    from app.bank.formats.yaml_zip import existing_questions, write_questions

    if course is not None:
        if into is not None:
            click.echo("--course imports into the course's bank: leave out --into.", err=True)
            sys.exit(2)
        _course_import(file, fmt, course, dry_run)
        return
    if not dry_run and into is None:
        click.echo("Give --dry-run to preview the import, or --into DIR to write it.", err=True)
        sys.exit(2)
    try:
        parsed = parse(fmt, file.read_bytes())
    except (UnsafeFileError, FormatError) as exc:
        click.echo(f"Cannot import {file.name}: {exc}", err=True)
        sys.exit(1)
    target = into or load_settings().questions_dir
    existing = existing_questions(target)
    result = preview(parsed, {qid: digest for qid, (digest, _path) in existing.items()})
    click.echo(f"Import of {file.name} into {target}:")
    click.echo(format_preview(result))
    if not result.ok:
        sys.exit(1)
    if dry_run or into is None:
        return
    written = write_questions(parsed, into, existing, result.create + result.change)
    click.echo(f"Wrote {len(written)} file(s) into {into}.")


@outbox.command("drain")
def outbox_drain() -> None:
    """Deliver every message due now, then exit (the server also delivers in the background)."""
    from app.main import create_app

    settings = load_settings()
    create_app(settings)  # registers the deliverers, as the server's start-up does
    click.echo(f"{drain_now(settings)} message(s) tried")


@main.command("settings")
@click.option("--write", is_flag=True, help="Write docs/configuration.md.")
def settings_doc(write: bool) -> None:
    """Print (or write) the table of every setting: docs/configuration.md."""
    from app import configuration

    if write:
        click.echo(f"wrote {configuration.write()}")
    else:
        click.echo(configuration.settings_table(), nl=False)


@main.command("migrate")
def migrate() -> None:
    """Bring the database schema up to date (the server also does this on start)."""
    from app.core.db import migrate_database

    migrate_database(load_settings().database_url)
    click.echo("database is up to date")


main.add_command(users)
main.add_command(tokens)
main.add_command(lti)
main.add_command(outbox)
for command in OPERATIONS_COMMANDS:  # backup, restore, purge, learners
    main.add_command(command)

if __name__ == "__main__":
    main()
