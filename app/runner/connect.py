"""Which runner client the app uses, from TORCHQUIZ_RUNNER_URL's scheme."""

from __future__ import annotations

from app.runner.client import Runner, RunnerClient

QUEUE_SCHEMES = ("redis://", "rediss://")


def runner_at(url: str, *, token: str = "", prefix: str, embedded: bool = False) -> Runner:
    """The client of the runner at `url`: a Redis job queue (redis://, rediss://; keys under
    `prefix`: app.runner.queue_client, imported only then, so an app without one never loads
    the Redis client) or a runner service over HTTP (http://, unix://; `token` its bearer
    token)."""
    if url.startswith(QUEUE_SCHEMES):
        from app.runner.queue_client import QueueRunner

        return QueueRunner(url, prefix=prefix)
    return RunnerClient(url, token=token, embedded=embedded)
