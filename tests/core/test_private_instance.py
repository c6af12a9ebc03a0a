"""The instance folder (SQLite database, secret key, the runner's 0666 socket) is its user's
only, so that another user of the machine can neither read learners' data and password hashes
nor send the runner code."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

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


def _key_of(instance: str) -> str:
    return Settings(instance_dir=Path(instance), environment="test").signing_key()


def test_processes_starting_at_once_all_get_the_one_key_kept(tmp_path: Path) -> None:
    """uvicorn's workers start together: each must sign with the same generated key, or a
    learner's cookie signed by one would be refused by the next."""
    instance = tmp_path / "instance"
    context = multiprocessing.get_context("spawn")  # not fork: this process may hold threads
    with context.Pool(6) as pool:
        keys = pool.map(_key_of, [str(instance)] * 12)
    assert len(set(keys)) == 1 and keys[0] == (instance / "secret_key").read_text().strip()
    assert mode(instance / "secret_key") == 0o600
    assert [p.name for p in instance.iterdir()] == ["secret_key"]  # no spare file left behind


def test_a_key_another_process_put_in_place_first_is_the_one_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = tmp_path / "instance"
    real_link = os.link

    def beaten(source: str, target: str) -> None:  # the other process links its key first
        Path(target).write_text("the other process's key")
        real_link(source, target)

    monkeypatch.setattr(os, "link", beaten)
    assert Settings(instance_dir=instance, environment="test").signing_key() == (
        "the other process's key"
    )
    assert [p.name for p in instance.iterdir()] == ["secret_key"]
