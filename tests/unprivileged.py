"""Running a piece of the project the way a normal user does: as an unprivileged uid, from a
virtualenv under /tmp. CI runs as root, so the suite makes the user and drops to it here.

The venv is made with an interpreter that user can run (the suite's own may live in root's
home, which other users cannot enter) and gets the suite's site-packages as hard links: a
second install in a second or two, with every package at a /tmp path.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TEST_USER = "torchquiz-test"
USERADD = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER]
USER_LOCK = "/tmp/torchquiz-test-user.lock"  # the same for every test process on the machine


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int

    def popen_options(self) -> dict[str, object]:
        """For subprocess.Popen: become this user, with no supplementary groups."""
        if os.geteuid() != 0:
            return {}  # we already are an unprivileged user
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def unprivileged_user() -> User:
    """The suite's unprivileged user: made when running as root, else whoever runs the suite."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return User(me.pw_name, me.pw_uid, me.pw_gid)
    # Parallel test processes (pytest-xdist) may all get here first: one makes the user, the
    # others wait for it (a second useradd would fail on the user, or on /etc/passwd's lock).
    with open(USER_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            entry = pwd.getpwnam(TEST_USER)
        except KeyError:
            subprocess.run(USERADD, check=True)
            entry = pwd.getpwnam(TEST_USER)
    return User(TEST_USER, entry.pw_uid, entry.pw_gid)


@contextlib.contextmanager
def venv_under_tmp(user: User) -> Iterator[Path]:
    """A venv in a folder of its own under /tmp, holding the suite's packages; yields its
    python, which `user` can run. Removed afterwards."""
    base = interpreter_for(user)
    root = Path(tempfile.mkdtemp(prefix="torchquiz-venv-", dir="/tmp"))
    root.chmod(0o755)
    try:
        subprocess.run([base, "-m", "venv", "--without-pip", str(root)], check=True)
        ours = Path(sysconfig.get_paths()["purelib"])
        theirs = root / ours.relative_to(sys.prefix)
        # Hard links: our files at their paths. Never change these files in place: they are
        # the suite's own venv's.
        subprocess.run(["cp", "-al", f"{ours}/.", f"{theirs}/"], check=True)
        yield root / "bin" / "python"
    finally:
        shutil.rmtree(root, ignore_errors=True)  # removes the links, not the files


def interpreter_for(user: User) -> str:
    """An interpreter of our Python version that `user` can run."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        os.path.realpath(sys._base_executable),  # type: ignore[attr-defined]
        shutil.which(f"python{version}") or "",
        f"/usr/bin/python{version}",
    ]
    for candidate in filter(None, candidates):
        try:
            check = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                cwd="/",
                **user.popen_options(),  # type: ignore[arg-type]
            )
        except OSError:  # not ours to run (in root's home, say)
            continue
        if check.returncode == 0 and check.stdout.strip() == str(sys.version_info[:2]):
            return candidate
    raise RuntimeError(f"no Python {version} that {user.name} can run: tried {candidates}")
