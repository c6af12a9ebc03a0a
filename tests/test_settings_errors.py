"""Invalid settings stop `torchquiz` with each setting's name and what is wrong, and never print
a value: not the admin token, the runner token, nor any part of the database password."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "torchquiz"
SMTP_PASSWORD = f"smtp-{secrets.token_hex(12)}"
RUNNER_TOKEN = f"runner-{secrets.token_hex(12)}"
PASSWORD = f"pw{secrets.token_hex(12)}"


def torchquiz(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as an operator runs it, with only these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHQUIZ_")}
    env.update({f"TORCHQUIZ_{name.upper()}": value for name, value in settings.items()})
    env["TORCHQUIZ_INSTANCE_DIR"] = str(tmp_path / "instance")
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        cwd=tmp_path,  # no .env file here
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_no_secret_in(done: subprocess.CompletedProcess[str]) -> None:
    said = done.stdout + done.stderr
    for secret in (SMTP_PASSWORD, RUNNER_TOKEN, PASSWORD, PASSWORD[-4:], PASSWORD[:4]):
        assert secret not in said, f"{secret!r} was printed:\n{said}"
    assert "Traceback" not in said, said


def test_a_production_start_without_a_secret_key_names_it_and_prints_no_secret(
    tmp_path: Path,
) -> None:
    done = torchquiz(
        tmp_path,
        "serve",
        environment="production",
        smtp_password=SMTP_PASSWORD,
        runner_token=RUNNER_TOKEN,
        database_url=f"postgresql://quiz:{PASSWORD}@127.0.0.1:1/quiz",
    )

    assert done.returncode == 1
    assert "TORCHQUIZ_SECRET_KEY must be set in production" in done.stderr
    assert_no_secret_in(done)
    assert not (tmp_path / "instance").exists()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"database_url": f"postgresql://quiz:{PASSWORD}@db:54x32/quiz"}, "DATABASE_URL"),
        ({"database_url": f"{PASSWORD} is no url"}, "DATABASE_URL"),
        ({"port": f"80{PASSWORD}"}, "TORCHQUIZ_PORT"),
        ({"environment": f"prod-{PASSWORD}"}, "TORCHQUIZ_ENVIRONMENT"),
    ],
)
def test_an_invalid_setting_is_named_and_its_value_never_shown(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    done = torchquiz(tmp_path, "migrate", smtp_password=SMTP_PASSWORD, **settings)

    assert done.returncode == 1
    assert done.stderr.startswith("The settings are not valid:")
    assert named in done.stderr
    assert_no_secret_in(done)


# --- production refuses unsafe settings, naming each ---

GOOD_KEY = secrets.token_urlsafe(48)
POSTGRES = f"postgresql://quiz:{PASSWORD}@127.0.0.1:1/quiz"
REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"secret_key": "test-secret-key-not-for-production"}, "TORCHQUIZ_SECRET_KEY"),
        ({"secret_key": "change-me"}, "TORCHQUIZ_SECRET_KEY"),
        ({"secret_key": secrets.token_urlsafe(12)}, "TORCHQUIZ_SECRET_KEY"),
        ({"database_url": "sqlite:///quiz.sqlite3", "redis_url": REDIS}, "TORCHQUIZ_DATABASE_URL"),
        ({"redis_url": REDIS, "runner_url": ""}, "TORCHQUIZ_RUNNER_URL"),
    ],
)
def test_a_production_start_with_an_unsafe_setting_is_refused_naming_it(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    given = {"database_url": POSTGRES, "secret_key": GOOD_KEY, "runner_url": "off"} | settings
    done = torchquiz(tmp_path, "serve", environment="production", **given)

    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith("The settings are not valid:")
    assert named in done.stderr
    assert_no_secret_in(done)
    if "secret_key" in settings:  # the refused key is not printed either
        assert settings["secret_key"] not in done.stderr + done.stdout


def test_several_problems_are_all_named_at_once(tmp_path: Path) -> None:
    done = torchquiz(
        tmp_path,
        "serve",
        environment="production",
        database_url="sqlite:///quiz.sqlite3",
        redis_url=REDIS,
    )

    assert done.returncode == 1
    for named in ("TORCHQUIZ_SECRET_KEY", "TORCHQUIZ_DATABASE_URL", "TORCHQUIZ_RUNNER_URL"):
        assert named in done.stderr


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"database_url": "sqlite:///quiz.sqlite3", "redis_url": REDIS}, "SQLite"),
        ({"database_url": POSTGRES}, "--workers 2 needs TORCHQUIZ_REDIS_URL"),
    ],
)
def test_serving_several_workers_in_production_needs_postgresql_and_redis(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    given = {"secret_key": GOOD_KEY, "runner_url": REDIS} | settings
    done = torchquiz(tmp_path, "serve", "--workers", "2", environment="production", **given)

    assert done.returncode == 1, done.stdout
    assert named in done.stderr
    assert_no_secret_in(done)


def test_routes_on_the_loop_are_refused_with_redis_in_any_environment(tmp_path: Path) -> None:
    done = torchquiz(tmp_path, "migrate", redis_url=REDIS, routes_on_loop="true")

    assert done.returncode == 1
    assert "TORCHQUIZ_ROUTES_ON_LOOP" in done.stderr and "TORCHQUIZ_REDIS_URL" in done.stderr
