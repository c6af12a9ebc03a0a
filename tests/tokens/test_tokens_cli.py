"""`torchquiz tokens create | list | revoke` against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main

PASSWORD = "a long enough passphrase"


def test_tokens_are_made_listed_and_revoked_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHQUIZ_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("TORCHQUIZ_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    runner = CliRunner()
    admin = ["users", "create-admin", "--email", "ops@example.org", "--password-stdin"]
    assert runner.invoke(main, admin, input=PASSWORD + "\n").exit_code == 0
    made = runner.invoke(
        main,
        [
            *("tokens", "create", "--email", "ops@example.org", "--name", "nightly"),
            *("--scope", "results:read", "--scope", "content:read", "--days", "7"),
        ],
    )
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("tqp_") and len(secret) == 47
    listed = runner.invoke(main, ["tokens", "list", "--email", "ops@example.org"])
    assert listed.exit_code == 0 and "nightly" in listed.output and "live" in listed.output
    assert secret not in listed.output
    public_id = listed.output.split("\t")[0]
    revoked = runner.invoke(main, ["tokens", "revoke", public_id])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    after = runner.invoke(main, ["tokens", "list", "--email", "ops@example.org"])
    assert "revoked" in after.output
    unknown = runner.invoke(main, ["tokens", "revoke", "nope"])
    assert unknown.exit_code == 1 and "no API token" in unknown.output
    bad = runner.invoke(
        main, ["tokens", "create", "--email", "ops@example.org", "--name", "x", "--scope", "all"]
    )
    assert bad.exit_code == 2 and "all" in bad.output
    nobody = runner.invoke(
        main,
        ["tokens", "create", "--email", "no@example.org", "--name", "x", "--scope", "practice"],
    )
    assert nobody.exit_code == 1 and "no account" in nobody.output
