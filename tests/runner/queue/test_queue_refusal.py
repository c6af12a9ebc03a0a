"""A queue runner that cannot build its sandbox refuses to start: exit 1, the reason on stderr,
and no job taken from the queue (a runner without a sandbox must never run a learner's code).

As root every sandbox can be built, so the runner is denied one as a normal user would be: it
runs as the suite's unprivileged user, told to use the privileged sandbox, which needs
CAP_SYS_ADMIN (app.runner.sandbox probes it for real, in a child, and fails). Nothing on the
machine changes: only that process lacks the privilege."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import redis

from app.core.config import PROJECT_DIR
from app.lab.config import BASELINE
from app.runner import queue
from app.runner.queue_client import QueueRunner
from tests.conftest import REDIS_URL
from tests.runner.queue.conftest import free_port, in_thread
from tests.runner.queue.test_queue_admission import say_alive
from tests.unprivileged import unprivileged_user

NO_SANDBOX = "code runner: not taking jobs from the queue without a sandbox."


def test_a_queue_runner_that_cannot_sandbox_refuses_to_start_and_takes_no_job(
    users_python: Path, redis_prefix: str
) -> None:
    say_alive(redis_prefix)  # a runner that takes no job: the job is admitted, and waits

    async def queued(client: QueueRunner) -> int:
        return await client.lab_submit(BASELINE.model_copy(update={"epochs": 1}), None)

    job = in_thread(queued, redis_prefix)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TORCHQUIZ_RUNNER_REDIS_PREFIX": redis_prefix,
        "TORCHQUIZ_RUNNER_SANDBOX": "privileged",
    }
    refused = subprocess.run(  # our own command
        [
            str(users_python),
            "-m",
            "app.cli",
            "runner",
            "--queue",
            REDIS_URL,
            "--port",
            str(free_port()),
        ],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        **unprivileged_user().popen_options(),  # type: ignore[arg-type]
    )

    assert refused.returncode == 1, refused.stderr
    assert "Running code is off:" in refused.stderr
    assert NO_SANDBOX in refused.stderr
    keys = queue.QueueKeys(redis_prefix)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        assert client.hget(keys.meta(job), "runner") is None  # no runner took it
        assert client.hget(keys.meta(job), "state") == "queued"
        assert client.xlen(keys.stream("long")) == 1  # still waiting for a runner
        assert not client.exists(keys.events(job))  # and nothing said about it
    finally:
        client.close()
