"""The suite in parallel processes (pytest-xdist: `-n 2 --dist loadfile` in pyproject.toml).

Each process has its own session fixtures: its own code runner, scratch databases and temporary
folders (tests/conftest.py). The tests of a file run in one process, in their order: its module
fixtures are set up once, and a test may rely on the one before it. So do those of a folder whose
files share a costly fixture (ONE_UNIT).

Tests marked `serial` time something against the machine's CPU (a CPU limit that must be hit
before a wall-clock one, say): one runs only while no other process runs a test, its fixtures'
setup and teardown included. Two lock files in the run's temporary folder, shared by its
processes, make a readers-writer lock that a serial test cannot starve on: `gate`, then `tests`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Folders whose files share a costly fixture, each run in one process as if one file:
# - tests/hardening: a second runner and an app per backend, package-scoped (in a process that
#   also runs other folders' files in between, pytest would start them again for each file);
# - tests/runner: the runner as a service, run by an unprivileged user from a venv under /tmp.
ONE_UNIT = ("tests/hardening/", "tests/runner/")
_open: dict[str, int] = {}


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadfile, where each folder of ONE_UNIT counts as one file. (Not --dist loadgroup:
    xdist 3.8 no longer sees its groups under pytest 9.2, pytest-xdist issue 1386.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            folder = next((f for f in ONE_UNIT if nodeid.startswith(f)), None)
            return folder or str(super()._split_scope(nodeid))

    return Scheduling(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with turn(item.config, alone=item.get_closest_marker("serial") is not None):
        return (yield)


@contextlib.contextmanager
def turn(config: pytest.Config, *, alone: bool) -> Iterator[None]:
    """A test's turn: beside other tests, or alone."""
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: every test runs alone
        yield
        return
    run = Path(config.option.basetemp).parent  # the workers' folders are in the run's
    gate, tests = (_lock(run / name) for name in ("gate.lock", "tests.lock"))
    if alone:
        fcntl.flock(gate, fcntl.LOCK_EX)  # no other test starts now...
        fcntl.flock(tests, fcntl.LOCK_EX)  # ...and those running end
    else:
        fcntl.flock(gate, fcntl.LOCK_SH)  # waits while a serial test waits or runs
        fcntl.flock(tests, fcntl.LOCK_SH)
        fcntl.flock(gate, fcntl.LOCK_UN)
    try:
        yield
    finally:
        fcntl.flock(tests, fcntl.LOCK_UN)
        if alone:
            fcntl.flock(gate, fcntl.LOCK_UN)


def _lock(path: Path) -> int:
    if str(path) not in _open:
        _open[str(path)] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return _open[str(path)]
