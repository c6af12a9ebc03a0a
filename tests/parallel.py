"""The suite in parallel processes (pytest-xdist: `-n 2 --dist loadfile` in pyproject.toml).

Each process has its own session fixtures: its own code runner, scratch databases and temporary
folders (tests/conftest.py). The tests of a file run in one process, in their order: its module
fixtures are set up once, and a test may rely on the one before it. So do those of a folder whose
files share a costly fixture (ONE_UNIT).

Tests marked `serial` time something against the machine's CPU (a CPU limit that must be hit
before a wall-clock one, say): one runs only while no other process runs a test, its fixtures'
setup and teardown included. Two lock files in the run's temporary folder, shared by its
processes, make a readers-writer lock that a serial test cannot starve on: `gate`, then `tests`.
A serial test followed by another keeps the lock for it: each would otherwise wait again for
the other process's test of the moment to end (a browser test: up to 15 s).
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
BROWSER = "tests/browser/"
_open: dict[str, int] = {}
_alone = {"held": False}  # whether this process holds the lock for serial tests now


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

        def _assign_work_unit(self, node: Any) -> None:
            if not getattr(self, "ordered", False):  # the first unit handed out
                one_units_first(self.workqueue)
                self.ordered = True
            super()._assign_work_unit(node)

    return Scheduling(config, log)


def one_units_first(workqueue: Any) -> None:
    """The folders of ONE_UNIT first, the longest units of the run (minutes each): in xdist's
    order (most tests first) tests/runner came after several others, and ended last. The
    browser files last: their Playwright keeps an event loop running in the process's main
    thread, where a later test's asyncio.run() would fail ("cannot be called from a running
    event loop"). xdist's order (most tests first) used to leave them last, until files of a
    few tests each that call asyncio.run() came after them. The rest keep xdist's order."""

    def place(unit: tuple[str, Any]) -> int:
        return 0 if unit[0] in ONE_UNIT else 2 if unit[0].startswith(BROWSER) else 1

    waiting = sorted(workqueue.items(), key=place)
    workqueue.clear()
    workqueue.update(waiting)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    alone, keep = serial(item), nextitem is not None and serial(nextitem)
    with turn(item.config, alone=alone, keep=alone and keep):
        return (yield)


def serial(item: pytest.Item) -> bool:
    return item.get_closest_marker("serial") is not None


@contextlib.contextmanager
def turn(config: pytest.Config, *, alone: bool, keep: bool = False) -> Iterator[None]:
    """A test's turn: beside other tests, or alone (and, if `keep`, still alone after it, for
    the next test)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: every test runs alone
        yield
        return
    run = Path(config.option.basetemp).parent  # the workers' folders are in the run's
    gate, tests = (_lock(run / name) for name in ("gate.lock", "tests.lock"))
    if alone and not _alone["held"]:
        fcntl.flock(gate, fcntl.LOCK_EX)  # no other test starts now...
        fcntl.flock(tests, fcntl.LOCK_EX)  # ...and those running end
    elif not alone:
        fcntl.flock(gate, fcntl.LOCK_SH)  # waits while a serial test waits or runs
        fcntl.flock(tests, fcntl.LOCK_SH)
        fcntl.flock(gate, fcntl.LOCK_UN)
    _alone["held"] = alone
    try:
        yield
    finally:
        if not keep:
            _alone["held"] = False
            fcntl.flock(tests, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(gate, fcntl.LOCK_UN)


def _lock(path: Path) -> int:
    if str(path) not in _open:
        _open[str(path)] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return _open[str(path)]
