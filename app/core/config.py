"""Settings from environment variables (prefix TORCHQUIZ_), with safe embedded defaults."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TORCHQUIZ_", env_file=".env", extra="ignore")

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
    # Instructor endpoints (until accounts arrive): `Authorization: Bearer <admin_token>`.
    admin_token: str = ""

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.environment == "production" and not self.secret_key:
            raise ValueError("TORCHQUIZ_SECRET_KEY must be set in production")
        if not self.database_url:
            self.database_url = f"sqlite:///{self.instance_dir / 'torchquiz.sqlite3'}"
        self.database_url = normalise_db_url(self.database_url)
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

    def signing_key(self) -> str:
        """The configured secret, or one generated once and kept in the instance folder."""
        if self.secret_key:
            return self.secret_key
        path = self.instance_dir / "secret_key"
        if not path.exists():
            self.instance_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def normalise_db_url(url: str) -> str:
    """Plain `postgresql://` URLs use psycopg 3, the driver this project installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@lru_cache
def get_settings() -> Settings:
    return Settings()
