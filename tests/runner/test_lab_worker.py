"""A lab worker whose runner was killed: its events have no reader, and the worker (or a
job's child, mid-epoch) ends quietly instead of printing a traceback into the log it shares
with the runner (tests/scale's runner-kill test found two there)."""

from __future__ import annotations

import subprocess
import sys

from tests.servers import PROJECT

# The real emit() in a real process whose stdout is a pipe nobody reads any more.
EMIT_INTO_A_CLOSED_PIPE = """
import os
reader, writer = os.pipe()
os.close(reader)
os.dup2(writer, 1)
from app.runner.lab_worker import emit
emit(7, {"type": "epoch", "epoch": 1})
os.write(2, b"went on after the runner was gone")
"""


def test_an_event_for_a_runner_that_is_gone_ends_the_process_quietly() -> None:
    done = subprocess.run(
        [sys.executable, "-c", EMIT_INTO_A_CLOSED_PIPE],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "a traceback, or work after the runner was gone"
