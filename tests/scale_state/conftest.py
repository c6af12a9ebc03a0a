"""The fixtures of the scale-out tests of shared state."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scale_state.support import start_redis
from tests.test_cli import free_port


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A Redis of this test's own (the shared one must not be stopped): its URL, and its
    process (in a list, for the test to replace)."""
    port = free_port()
    started: list[subprocess.Popen[bytes]] = [start_redis(port, tmp_path)]
    try:
        yield f"redis://127.0.0.1:{port}/0", started
    finally:
        for process in started:
            process.kill()
            process.wait()
