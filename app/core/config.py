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

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must not print the settings' values (the admin
    # token, the database password) into a log; app.cli prints field names and messages only.
    model_config = SettingsConfigDict(
        env_prefix="TORCHQUIZ_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "production", "test"] = "development"
    # Where the default SQLite file and the generated secret key live.
    instance_dir: Path = PROJECT_DIR / "instance"
    database_url: str = ""
    secret_key: str = ""
    questions_dir: Path = PROJECT_DIR / "questions"
    host: str = "127.0.0.1"
    port: int = 8000
    # Worker threads for sync routes; 0 picks for the database (see route_threads).
    worker_threads: int = 0
    # Run sync routes on the event loop instead of in threads; unset picks for the database.
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
    # spare browser each, then 30 a minute. Counted in each server process.
    new_learners_burst: int = 60
    new_learners_per_minute: int = 30
    # Accounts: how long a sign-in lasts, and failed sign-ins allowed before a wait (per
    # account: 10, then one a minute; per client address: 30, then 10 a minute).
    account_session_days: int = 30
    sign_in_burst: int = 10
    sign_in_per_minute: int = 1
    sign_in_address_burst: int = 30
    sign_in_address_per_minute: int = 10
    # Mail (password resets, staff invitations): with no host, mail is written to the log.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "torchquiz <noreply@localhost>"

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
        if self.environment == "production" and not self.secret_key:
            raise ValueError("TORCHQUIZ_SECRET_KEY must be set in production")
        if not self.database_url:
            self.database_url = f"sqlite:///{self.instance_dir / 'torchquiz.sqlite3'}"
        try:
            self.database_url = normalise_db_url(self.database_url)
        except (ArgumentError, ValueError):  # a bad port's message quotes part of the URL
            raise ValueError(
                "TORCHQUIZ_DATABASE_URL is not a database URL (not shown: it may hold a password)"
            ) from None
        return self

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
        """SQLite calls are local and sub-millisecond: cheaper on the loop than a thread hop."""
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
