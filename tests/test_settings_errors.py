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
