"""Settings from environment variables (prefix TORCHQUIZ_), with safe embedded defaults."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
# A production secret key: at least this long, and none of the development or example keys
# (this project's tests and docs use keys that say "not-for-production", or "change-me").
SECRET_KEY_LENGTH = 32
KNOWN_KEYS = ("not-for-production", "change-me", "changeme")


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must not print the settings' values (the admin
    # token, the database password) into a log; app.cli prints field names and messages only.
    model_config = SettingsConfigDict(
        env_prefix="TORCHQUIZ_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    # production: cookies marked Secure, HSTS, and the settings checked for unsafe values
    # (Settings.production_problems: the start is refused, naming each).
    environment: Literal["development", "production", "test"] = "development"
    # Where the default SQLite file and the generated secret key live.
    instance_dir: Path = PROJECT_DIR / "instance"
    # Any SQLAlchemy URL; postgresql:// uses psycopg 3. Empty: SQLite in the instance folder.
    # PostgreSQL is the production database (and the only one for several processes).
    database_url: str = ""
    # Signs learner cookies and CSRF tokens; every replica needs the same one. Empty: one is
    # generated once into the instance folder (refused in production).
    secret_key: str = ""
    # The question bank: a folder of YAML files.
    questions_dir: Path = PROJECT_DIR / "questions"
    # Where `torchquiz serve` listens (--host and --port override them).
    host: str = "127.0.0.1"
    port: int = 8000
    # Worker threads for sync routes; 0 picks for the database (see route_threads).
    worker_threads: int = 0
    # Run sync routes on the event loop instead of in threads; unset picks for the database
    # (the loop for SQLite), except with TORCHQUIZ_REDIS_URL: threads, which may wait on Redis.
    routes_on_loop: bool | None = None
    # The code runner: a URL (http://host:port or unix:///path) of `torchquiz runner`;
    # empty means `torchquiz serve` starts one of its own. The token guards a shared runner.
    runner_url: str = ""
    runner_token: str = ""
    # Redis, for running several app processes or machines as one site (see README
    # "Deploying"): the runner's job queue, the lab's live events, shared rate limits and
    # caches. Empty: one process keeps all of that in memory (the embedded default).
    redis_url: str = ""
    # Every key this site writes in Redis starts with this (several sites, or test runs, may
    # share one Redis).
    redis_prefix: str = "torchquiz:"
    # Operations (README "Operations"). Logs: "text" for a terminal, "json" for a collector
    # (one object a line, with the request id); uvicorn's access log (one line a request).
    log_format: Literal["text", "json"] = "text"
    access_log: bool = False
    # /metrics answers loopback callers; any other caller must send this bearer token (empty:
    # loopback only).
    metrics_token: str = ""
    # OpenTelemetry traces to this OTLP/HTTP collector (or OTEL_EXPORTER_OTLP_ENDPOINT's);
    # needs the `otel` extra. Empty: no tracing, nothing of OpenTelemetry's SDK imported.
    otel_endpoint: str = ""
    # On SIGTERM: seconds to keep serving with /readyz at 503 (a load balancer takes the
    # replica out meanwhile) before closing the listener; in-flight requests then finish.
    drain_seconds: float = 0.0
    # Host names the app answers to (the Host header), besides the loopback names and `host`
    # (see trusted_hosts): the public name behind a proxy. "*.example.org" allows subdomains.
    # In the environment: comma- or space-separated, or a JSON list.
    allowed_hosts: Annotated[list[str], NoDecode] = []
    # Who may show the pages in a frame (CSP frame-ancestors sources); an LMS adds its origin.
    frame_ancestors: Annotated[list[str], NoDecode] = ["'self'"]
    # The largest request body accepted, in bytes; beyond it, 413. The largest legitimate body,
    # the longest code accepted (64 Ki characters) in a form post, is at most 768 KiB even if
    # every character takes 4 UTF-8 bytes, each percent-encoded.
    max_body_bytes: int = 1024 * 1024
    # A question bank's upload (POST .../import, .../imports): the safe readers' own limit.
    max_upload_bytes: int = 20 * 1024 * 1024
    # Proxies whose word on the client's address is believed (IPs or CIDRs, as allowed_hosts):
    # only when a request comes from one of them is `proxy_header` read, right to left,
    # skipping these proxies' own hops (app.core.clients). Empty: the socket's peer is the
    # client, whatever the headers say.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # The header those proxies write: the one that they append to, not pass through.
    proxy_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    # Anonymous learners one client address may create (the first write of a new cookie or
    # token stores a learner): 60 at once, for a classroom of about 30 behind one NAT with a
    # spare browser each, then 30 a minute. Counted across every process of the site when
    # TORCHQUIZ_REDIS_URL is set (app.core.limiting), else in each server process.
    new_learners_burst: Annotated[int, Field(ge=1)] = 60
    new_learners_per_minute: Annotated[int, Field(ge=1)] = 30
    # Accounts: how long a sign-in lasts, and failed sign-ins allowed before a wait (per
    # account: 10, then one a minute; per client address: 30, then 10 a minute; counted as
    # the new learners are).
    account_session_days: int = 30
    sign_in_burst: Annotated[int, Field(ge=1)] = 10
    sign_in_per_minute: Annotated[int, Field(ge=1)] = 1
    sign_in_address_burst: Annotated[int, Field(ge=1)] = 30
    sign_in_address_per_minute: Annotated[int, Field(ge=1)] = 10
    # Mail (password resets, staff invitations): with no host, mail is written to the log.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "torchquiz <noreply@localhost>"
    # Purging old rows (app.operations.purge; `torchquiz purge`): finished outbox messages
    # (delivered, refused, dead) after this many days; expired LTI logins, idempotency keys,
    # sessions, resets and invitations this many days past their expiry; how often each
    # server process purges (0: never, leaving it to `torchquiz purge` from cron).
    outbox_retention_days: Annotated[int, Field(ge=1)] = 30
    expired_retention_days: Annotated[int, Field(ge=0)] = 1
    purge_interval_seconds: Annotated[int, Field(ge=0)] = 3600

    @field_validator("allowed_hosts", "frame_ancestors", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [item for item in re.split(r"[\s,]+", value) if item]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.instance_dir / 'torchquiz.sqlite3'}"
        try:
            self.database_url = normalise_db_url(self.database_url)
        except (ArgumentError, ValueError):  # a bad port's message quotes part of the URL
            raise ValueError(
                "TORCHQUIZ_DATABASE_URL is not a database URL (not shown: it may hold a password)"
            ) from None
        if self.redis_url and self.routes_on_loop:
            raise ValueError(
                "TORCHQUIZ_ROUTES_ON_LOOP cannot be true with TORCHQUIZ_REDIS_URL set: routes "
                "wait on Redis (shared rate limits, cache invalidations) from worker threads"
            )
        if self.environment == "production" and (problems := self.production_problems()):
            raise ValueError("\n  ".join(problems))
        return self

    def production_problems(self, workers: int = 1) -> list[str]:
        """Why these settings are unsafe in production, each naming its variable (checked when
        they are read with TORCHQUIZ_ENVIRONMENT=production; `serve --workers` checks again).
        There is no debug switch to refuse: no reload, no debug pages, uvicorn logs at info."""
        problems = []
        key = self.secret_key
        if not key:
            problems.append("TORCHQUIZ_SECRET_KEY must be set in production")
        elif len(key) < SECRET_KEY_LENGTH or any(mark in key.lower() for mark in KNOWN_KEYS):
            problems.append(
                f"TORCHQUIZ_SECRET_KEY is a development or example key, or shorter than "
                f"{SECRET_KEY_LENGTH} characters: set a random one (openssl rand -base64 48)"
            )
        several = bool(self.redis_url) or workers > 1
        if several and self.is_sqlite():
            problems.append(
                "TORCHQUIZ_DATABASE_URL is SQLite, one machine's file, but several app processes "
                "serve this site (TORCHQUIZ_REDIS_URL is set, or --workers is above 1): use "
                "PostgreSQL"
            )
        if workers > 1 and not self.redis_url:
            problems.append(
                f"--workers {workers} needs TORCHQUIZ_REDIS_URL in production: without it each "
                "process counts rate limits and keeps sessions of its own"
            )
        if self.redis_url and not self.runner_url:
            problems.append(
                "TORCHQUIZ_RUNNER_URL is empty, so each replica (TORCHQUIZ_REDIS_URL is set) "
                "would start a code runner of its own inside the app: point them at shared "
                "runners (the job queue's redis://..., or http://host:8100), or set it to off"
            )
        return problems

    @property
    def safe_db_url(self) -> str:
        """The database URL with any password hidden, for logs."""
        return make_url(self.database_url).render_as_string(hide_password=True)

    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"

    def sqlite_file(self) -> str | None:
        """The SQLite database file, if the database is one (not in memory)."""
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return url.database

    def route_threads(self) -> int:
        """SQLite serves one connection per process, so more than two threads only queue for it
        and fight over the GIL (measured with bench/http_load.py); a server database uses many."""
        if self.worker_threads:
            return self.worker_threads
        return 2 if self.is_sqlite() else 40

    def routes_on_event_loop(self) -> bool:
        """SQLite calls are local and sub-millisecond: cheaper on the loop than a thread hop.
        Never with Redis: a route's transaction may wait on it (a new learner's limit,
        app.core.limiting; a change told to the other processes, app.core.invalidations),
        which only a worker thread may do."""
        if self.redis_url:
            return False
        return self.is_sqlite() if self.routes_on_loop is None else self.routes_on_loop

    def trusted_hosts(self) -> list[str]:
        """Loopback names always (health checks and local use; no other site can make a
        browser send them), "testserver" (Starlette's test client), `host` and allowed_hosts."""
        local = ["localhost", "127.0.0.1", "::1", "testserver"]
        bound = [] if self.host in ("", "0.0.0.0", "::") else [self.host]  # noqa: S104 - a name
        return [*local, *bound, *(h.lower() for h in self.allowed_hosts if h)]

    def signing_key(self) -> str:
        """The configured secret, or one generated once and kept in the instance folder."""
        if self.secret_key:
            return self.secret_key
        path = self.instance_dir / "secret_key"
        private_dir(self.instance_dir)  # also an older install's, made before it was private
        if not path.exists():
            # Several processes may start at once (uvicorn's workers): each writes a key of its
            # own aside, and the first to link its file in place wins; the others read that one.
            # A key written in place could be read half-written, or overwritten by another.
            spare = path.with_name(f".secret_key.{os.getpid()}")
            spare.write_text(secrets.token_urlsafe(48))
            spare.chmod(0o600)
            try:
                os.link(spare, path)
            except FileExistsError:
                pass
            finally:
                spare.unlink()
        return path.read_text().strip()


def private_dir(path: Path) -> None:
    """Make the instance folder (made here if missing) this user's only: it holds the SQLite
    database (accounts' password hashes, learners' answers), the secret key and the runner's
    socket, which uvicorn makes world-writable (0666) whatever the umask. Another user of the
    machine can then neither read the database nor send the runner code."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        path.chmod(0o700)


def normalise_db_url(url: str) -> str:
    """Plain `postgresql://` URLs use psycopg 3, the driver this project installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@lru_cache
def get_settings() -> Settings:
    return Settings()
