"""The instance folder (SQLite database, secret key, the runner's 0666 socket) is its user's
only, so that another user of the machine can neither read learners' data and password hashes
nor send the runner code."""

from __future__ import annotations

import stat
from pathlib import Path

from app.core.config import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_instance_folder_is_made_private(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    Settings(instance_dir=instance, environment="test").signing_key()
    assert mode(instance) == 0o700
    assert mode(instance / "secret_key") == 0o600


def test_an_older_install_s_open_instance_folder_is_closed_on_start(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)  # whatever the umask, as an older version left it
    (instance / "secret_key").write_text("kept")
    assert Settings(instance_dir=instance, environment="test").signing_key() == "kept"
    assert mode(instance) == 0o700
