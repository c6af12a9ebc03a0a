"""The container image, built and run for real with a read-only root: it serves the site as its
non-root user and runs code in the rootless sandbox with the documented flags only, migrates a
scratch database, and runs a runner on the Redis queue that an app container sends runs to.

Opt-in (TORCHQUIZ_TEST_IMAGE=1): a build takes over a minute and needs podman, which CI does not
have. On the project's machines: `TORCHQUIZ_TEST_IMAGE=1 pytest tests/deploy/test_image.py`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from app.core.config import PROJECT_DIR

TAG = "localhost/torchquiz:test"

pytestmark = pytest.mark.skipif(
    not os.environ.get("TORCHQUIZ_TEST_IMAGE") or not shutil.which("podman"),
    reason="opt-in: TORCHQUIZ_TEST_IMAGE=1 and podman (a build takes over a minute)",
)


def test_the_image_runs_serve_migrate_and_a_queued_runner_read_only() -> None:
    deploy = PROJECT_DIR / "deploy"
    subprocess.run([deploy / "build-offline.sh", TAG], check=True, timeout=900)
    services = {  # the test suite's own PostgreSQL and Redis (README, section "Tests")
        "POSTGRES": "postgresql://postgres@127.0.0.1:5432",
        "REDIS": "redis://127.0.0.1:6379/0",
    }
    smoke = subprocess.run(
        [deploy / "smoke.sh", TAG],
        env={**os.environ, **services},
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    out = smoke.stdout
    assert "uid=10001" in out and "HOME=/tmp" in out, out
    assert "Read-only file system" in out, out
    assert '"mode":"rootless"' in out, out
    assert out.count('"ok":true') == 2 and "tensor([[" in out, out  # embedded, then queued
    assert "database is up to date" in out, out
    assert re.search(r"jobs through the queue: [1-9]", out), out
