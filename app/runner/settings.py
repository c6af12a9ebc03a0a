"""The runner's settings, from environment variables (prefix TORCHQUIZ_RUNNER_) or a `.env` file,
as the app's are (app.core.config): `torchquiz runner` reads them, and `torchquiz serve` reads
them too and hands its embedded runner the same values (app.runner.embedded)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.runner.jail import Mode
from app.runner.pool import PoolConfig
from app.runner.ratelimit import ADDRESS_BURST, ADDRESS_PER_MINUTE, RateLimiter, RunLimits

ENV_PREFIX = "TORCHQUIZ_RUNNER_"


class RunnerSettings(BaseSettings):
    # hide_input_in_errors: an error must not print a value (the token) into a log.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    # Where `torchquiz runner` listens over TCP (--uds listens on a Unix socket instead).
    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=1, le=65535)
    # Every call but /healthz must say `Authorization: Bearer <token>`; empty: no token asked.
    token: str = ""
    # auto: privileged where the kernel allows it (root), else rootless (user namespaces).
    sandbox: Literal["auto", "privileged", "rootless"] = "auto"
    # Warm zygotes; per zygote, runs in flight (0: enough for every lane and the spares) and
    # runs' processes made ahead of time.
    zygotes: int = Field(default=1, ge=1)
    slots: int = Field(default=0, ge=0)
    spares: int = Field(default=2, ge=0)
    # Snippets, checks and code tests run at once, and waiting; beyond, 429. Lab code never
    # takes these places.
    parallel: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    queue_depth: int = Field(default=32, ge=0)
    # Learners' own lab models (kind lab_code, up to a minute each) trained at once on top of
    # `parallel`, and waiting; beyond, 429. 0 at once: none, every one is refused (429).
    lab_code_parallel: int = Field(default=1, ge=0)
    lab_code_queue_depth: int = Field(default=4, ge=0)
    # The first of the runs' user ids (privileged mode: one per slot, then the warm workers').
    uid_base: int = Field(default=60000, ge=1)
    # Warm Shape playground processes (no learner code).
    playground_workers: int = Field(default=2, ge=1)
    # Warm lab trainers (one job each at a time), lab jobs that may wait (each job waits in the
    # queue first: 0 refuses every job, 429), and how many of those one client address may hold.
    lab_workers: int = Field(default=1, ge=1)
    lab_queue_depth: int = Field(default=8, ge=0)
    lab_queue_per_address: int = Field(default=4, ge=1)
    # Runs a learner may start at once, then per minute; the same for one client address,
    # whatever its learners (sized for a classroom behind one NAT). The playground allows 4x.
    burst: int = Field(default=10, ge=1)
    per_minute: int = Field(default=30, ge=1)
    address_burst: int = Field(default=ADDRESS_BURST, ge=1)
    address_per_minute: int = Field(default=ADDRESS_PER_MINUTE, ge=1)
    # A Redis URL (redis:// or rediss://): also take jobs from the Redis job queue
    # (app.runner.queue_worker; `torchquiz runner --queue URL`). Empty: HTTP only.
    queue: str = Field(default="", pattern=r"^(|rediss?://.*)$")
    # The queue's keys begin with this: the same as the app's TORCHQUIZ_REDIS_PREFIX.
    redis_prefix: str = "torchquiz:"
    # A queued job whose runner has not shown it is alive for this long (its heartbeat comes
    # every sixth of it) is taken back by another runner: a snippet is answered with an
    # error, a training job run once more.
    queue_reclaim_seconds: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _lanes_fit(self) -> RunnerSettings:
        self.pool_config()  # every lane's runs must fit in the zygotes' slots
        return self

    def pool_config(self, mode: Mode = "privileged") -> PoolConfig:
        """The warm workers' configuration, for the sandbox mode the runner found."""
        return PoolConfig(
            mode=mode,
            zygotes=self.zygotes,
            slots=self.slots,
            spares=self.spares,
            parallel=self.parallel,
            queue_depth=self.queue_depth,
            lab_code_parallel=self.lab_code_parallel,
            lab_code_queue_depth=self.lab_code_queue_depth,
            uid_base=self.uid_base,
            playground_workers=self.playground_workers,
            lab_workers=self.lab_workers,
            lab_queue_depth=self.lab_queue_depth,
            lab_queue_per_address=self.lab_queue_per_address,
        )

    def run_limits(self) -> RunLimits:
        """The runs one learner, and one client address, may start."""
        return RunLimits(
            RateLimiter(burst=self.burst, per_minute=self.per_minute),
            RateLimiter(burst=self.address_burst, per_minute=self.address_per_minute),
        )

    def environ(self) -> dict[str, str]:
        """These settings as the environment variables they are read from: a runner started
        with them builds the same settings."""
        return {f"{ENV_PREFIX}{name.upper()}": str(value) for name, value in self}
