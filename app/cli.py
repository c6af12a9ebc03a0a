"""The `torchquiz` console command."""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from app.bank.loader import BankInvalidError, Problem, format_report, load_bank
from app.bank.report import SCHEMA_DIR, check_problems, editor_schemas
from app.core.config import Settings, get_settings
from app.runner.client import URL_OFF, embedded_socket
from app.runner.embedded import embedded_runner
from app.runner.settings import ENV_PREFIX as RUNNER_ENV_PREFIX
from app.runner.settings import RunnerSettings
from app.study.checks import study_problems

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
    host = host or settings.host
    port = port or settings.port
    try:
        load_bank(settings.questions_dir)  # refuse to start on a bad bank, with the full report
    except BankInvalidError as exc:
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
        _serve_app(host, port, workers)


def _serve_app(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **SERVER_OPTIONS,
    )


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
def runner(uds: Path | None, host: str | None, port: int | None, sandbox: str | None) -> None:
    """Run learner code in a sandbox, as a service (as root, or rootless in user namespaces).

    Everything else comes from the TORCHQUIZ_RUNNER_* settings (app.runner.settings; README,
    section "Configuration")."""
    import uvicorn

    from app.runner.sandbox import detect
    from app.runner.server import create_runner_app

    given = {"host": host, "port": port, "sandbox": sandbox}
    settings = load_runner_settings(**{k: v for k, v in given.items() if v is not None})
    found = detect(settings.sandbox)
    click.echo(f"code runner: {found.mode} sandbox" if found.mode else found.reason, err=True)
    app = create_runner_app(settings, sandbox=found)
    os.umask(0o077)  # the socket: this user only
    location = {"uds": str(uds)} if uds else {"host": settings.host, "port": settings.port}
    uvicorn.run(app, **location, log_level="warning", loop="asyncio")


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
def questions_verify(root: Path | None, runner_url: str | None) -> None:
    """Run every `check` through the sandbox runner; show each claim beside what torch did."""
    import asyncio

    from app.bank.verify import verify_questions
    from app.runner.client import RunnerClient

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
        client = RunnerClient(url, token=settings.runner_token)
        try:
            return await verify_questions(questions, client)
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


@main.command("migrate")
def migrate() -> None:
    """Bring the database schema up to date (the server also does this on start)."""
    from app.core.db import migrate_database

    migrate_database(load_settings().database_url)
    click.echo("database is up to date")


if __name__ == "__main__":
    main()
