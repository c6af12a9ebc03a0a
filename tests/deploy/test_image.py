"""The container image, built and run for real: it serves the site as its non-root user and
runs code in the rootless sandbox with the documented flags only.

Opt-in (TORCHQUIZ_TEST_IMAGE=1): a build takes over a minute and needs podman, which CI does not
have. On the project's machines: `TORCHQUIZ_TEST_IMAGE=1 pytest tests/deploy/test_image.py`.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from app.core.config import PROJECT_DIR

TAG = "localhost/torchquiz:test"

pytestmark = pytest.mark.skipif(
    not os.environ.get("TORCHQUIZ_TEST_IMAGE") or not shutil.which("podman"),
    reason="opt-in: TORCHQUIZ_TEST_IMAGE=1 and podman (a build takes over a minute)",
)


def test_the_image_runs_code_in_its_rootless_sandbox() -> None:
    deploy = PROJECT_DIR / "deploy"
    subprocess.run([deploy / "build-offline.sh", TAG], check=True, timeout=900)
    smoke = subprocess.run(
        [deploy / "smoke.sh", TAG], capture_output=True, text=True, timeout=600, check=True
    )
    out = smoke.stdout
    assert "uid=10001" in out, out
    assert '"mode":"rootless"' in out or "rootless" in out, out
    assert '"ok":true' in out and "tensor([[" in out, out
