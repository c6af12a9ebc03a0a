"""The web app's runner when runners take jobs from a Redis job queue
(TORCHQUIZ_RUNNER_URL=redis://... : app.runner.queue explains the keys). The same interface as
the HTTP client (app.runner.client.Runner), the same errors:

- a job is admitted in one atomic step (queue.ADMIT): refused with TooManyRunsError (429 with
  Retry-After; the field names the bucket, "learner" or "address") past the lane's depth or the
  jobs a learner or an address may have in flight; with 503 (and Retry-After) when no runner is
  ready (warming, or none alive), or when Redis cannot be reached;
- its answer is read from the job's own stream (XREAD with BLOCK): started, output, result;
- a cancel reaches whichever runner holds the job (queue.CANCEL).

The depth and in-flight limits are the app's (QueueLimits, TORCHQUIZ_QUEUE_*): every replica
admits against the same counters in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, get_args

import redis.asyncio as aioredis
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import RedisError

from app.core import request_ids
from app.core.errors import AppError
from app.core.redis import connect
from app.runner import queue
from app.runner.client import (
    KNOWN_STATES,
    RunnerState,
    RunnerUnavailableError,
    RunnerWarmingError,
    TooManyRunsError,
    observe_run,
    observed,
)
from app.runner.errors import LAB_RETRY_SECONDS, RunnerOffError
from app.runner.lab_pool import FINAL
from app.runner.playground import PlaygroundParams, PlaygroundResult
from app.runner.protocol import RunRequest, RunResult
from app.runner.ratelimit import address_key
from app.training.config import LabConfig

log = logging.getLogger("torchquiz")
# One wait for news of a job; between two, the client checks that a runner is still alive.
BLOCK_MILLISECONDS = 5000
# A command that takes longer than this means Redis is not answering: 503, never a hang.
COMMAND_SECONDS = 5.0
UNAVAILABLE_RETRY_SECONDS = 5
MONITOR_SECONDS = 1.0


class QueueLimits(BaseSettings):
    """How many jobs may be admitted and not finished, across every app replica: per lane
    (short: snippets, checks, tests, playground; long: training), per learner and per client
    address (a classroom behind one NAT shares one)."""

    model_config = SettingsConfigDict(env_prefix="TORCHQUIZ_QUEUE_", extra="ignore")

    short_depth: int = Field(default=64, ge=0)
    long_depth: int = Field(default=8, ge=0)
    learner_short: int = Field(default=4, ge=1)
    learner_long: int = Field(default=1, ge=1)  # one training at a time, as the lab says
    address_short: int = Field(default=32, ge=1)
    address_long: int = Field(default=4, ge=1)

    def of(self, lane: queue.Lane) -> tuple[int, int, int]:
        """(depth, per learner, per address)."""
        if lane == "short":
            return self.short_depth, self.learner_short, self.address_short
        return self.long_depth, self.learner_long, self.address_long


class QueueRunner:
    """`url`: redis:// or rediss://; `prefix`: the site's key prefix (Settings.redis_prefix)."""

    embedded = False

    def __init__(self, url: str, *, prefix: str, limits: QueueLimits | None = None) -> None:
        self.url, self.keys = url, queue.QueueKeys(prefix)
        self.limits = limits or QueueLimits()
        self.state = RunnerState()
        self._redis: aioredis.Redis = connect(url)
        self._admit = self._redis.register_script(queue.ADMIT)
        self._cancel = self._redis.register_script(queue.CANCEL)
        self._live = self._redis.register_script(queue.LIVE)
        self._heard, self._settled = asyncio.Event(), asyncio.Event()

    # Runs.

    async def run(self, request: RunRequest) -> RunResult:
        return await observed(request.kind, self._run(request))

    async def _run(self, request: RunRequest) -> RunResult:
        job = await self._submit(request.kind, _run_body(request), request)
        return await QueuedRun(self, job, request.kind, time.monotonic()).result()

    async def playground(
        self, params: PlaygroundParams, learner: str | None, *, address: str | None = None
    ) -> PlaygroundResult:
        return await observed("playground", self._playground(params, learner, address))

    async def _playground(
        self, params: PlaygroundParams, learner: str | None, address: str | None
    ) -> PlaygroundResult:
        body = {"params": params.model_dump(), "learner": learner, "address": address}
        job = await self._enqueue("playground", "short", body, learner, address, None)
        return PlaygroundResult.model_validate(await self._answer(job))

    async def open_streamed(self, request: RunRequest) -> QueuedRun:
        """Returns once the job is admitted (refusals raised here); `follow` reads it."""
        started = time.monotonic()
        try:
            job = await self._submit(request.kind, _run_body(request), request)
        except Exception as exc:
            observe_run(request.kind, started, error=exc)
            raise
        return QueuedRun(self, job, request.kind, started)

    async def cancel_run(self, handle: str) -> bool:
        """Stop the run started with this handle; False if none is going."""
        job = await self._call(self._redis.get(self.keys.handle(handle)))
        return bool(job) and await self.cancel(int(job))

    # Lab training jobs.

    async def lab_submit(
        self, config: LabConfig, learner: str | None, *, address: str | None = None
    ) -> int:
        body = {"config": config.model_dump(mode="json"), "learner": learner, "address": address}
        return await self._enqueue("lab", "long", body, learner, address, None)

    async def lab_events(self, job_id: int, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The job's events from index `after` to the final one (as the HTTP runner's)."""
        sent = 0
        async for _, event in self.lab_entries(job_id):
            if sent >= after:
                yield event
            sent += 1

    async def lab_entries(
        self, job_id: int, after: str = "0-0"
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(stream entry id, event) of the job from after entry `after`, to the final one: a
        reader that stopped resumes from the last id it saw. A job run again (its runner died)
        repeats no event: its start and the epochs already told are left out. A job the queue
        does not know (expired, or lost by Redis) is refused at once, naming why."""
        known = self._redis.exists(self.keys.meta(job_id), self.keys.events(job_id))
        if not await self._call(known):
            raise RunnerUnavailableError(
                f"the job queue has no job {job_id} (it ended over "
                f"{queue.JOB_TTL_SECONDS // 60} minutes ago, or Redis lost it)"
            )
        started, epochs = False, 0
        async for entry_id, event in self.entries(job_id, after):
            if "retry" in event:
                continue
            kind = event.get("type")
            if kind == "started":
                if started:
                    continue
                started = True
            elif kind == "queued" and started:
                continue
            elif kind == "epoch":
                if int(event.get("epoch", 0)) <= epochs:
                    continue
                epochs = int(event.get("epoch", 0))
            yield entry_id, event
            if kind in FINAL:
                return

    async def lab_cancel(self, job_id: int) -> None:
        await self.cancel(job_id)

    async def cancel(self, job_id: int) -> bool:
        """Ask the runner holding the job (or the next to take it) to stop it."""
        said = await self._call(
            self._cancel(keys=[self.keys.meta(job_id), self.keys.cancel], args=[job_id])
        )
        return bool(said)

    # Admission.

    async def _submit(self, kind: str, body: dict[str, Any], request: RunRequest) -> int:
        lane = queue.lane_of(kind)
        return await self._enqueue(
            "run", lane, body, request.learner, request.address, request.handle
        )

    async def _enqueue(
        self,
        kind: str,
        lane: queue.Lane,
        body: dict[str, Any],
        learner: str | None,
        address: str | None,
        handle: str | None,
    ) -> int:
        """Admitted and queued in one step, or refused (queue.ADMIT)."""
        depth, per_learner, per_address = self.limits.of(lane)
        network = address_key(address) if address else ""
        args = [
            lane,
            depth,
            learner or "",
            per_learner,
            network,
            per_address,
            self.keys.base,
            queue.JOB_TTL_SECONDS,
            kind,
            json.dumps(body),
            handle or "",
            request_ids.current.get() or "",
        ]
        keys = [self.keys.inflight, self.keys.stream(lane), self.keys.ids, self.keys.runners]
        answer = await self._call(self._admit(keys=keys, args=args))
        if answer[0] == "ok":
            return int(answer[1])
        raise self._refusal(lane, answer)

    def _refusal(self, lane: queue.Lane, answer: list[str]) -> AppError:
        wait = 1.0 if lane == "short" else float(LAB_RETRY_SECONDS)
        what = "runs" if lane == "short" else "training runs"
        if answer[0] == "none":
            if int(answer[1]):
                self.state.state = "warming"
                return RunnerWarmingError()
            if answer[2]:
                self.state.state, self.state.reason = "off", answer[2]
                return RunnerOffError(answer[2])
            self.state.state = "unreachable"
            self.state.reason = "no code runner is connected to the job queue"
            return _retry_later(RunnerUnavailableError(self.state.reason))
        depth, per_learner, per_address = self.limits.of(lane)
        if answer[0] == "learner":
            message = f"you have {per_learner} {what} going, the most one learner may have"
            return TooManyRunsError(
                f"{message}; wait for one to end", seconds=wait, field="learner"
            )
        if answer[0] == "address":
            message = f"your network address has {per_address} {what} going, the most it may"
            return TooManyRunsError(f"{message}; try again shortly", seconds=wait, field="address")
        return TooManyRunsError(
            f"the code runners' queue is full ({depth} {what}); try again shortly", seconds=wait
        )

    async def _call(self, command: Awaitable[Any]) -> Any:
        """One Redis command; 503 (runner_unavailable, naming Redis) if Redis does not answer."""
        try:
            async with asyncio.timeout(COMMAND_SECONDS):
                return await command
        except (RedisError, OSError, TimeoutError) as exc:
            raise self.unavailable(exc) from None

    def unavailable(self, exc: BaseException) -> AppError:
        why = str(exc) or type(exc).__name__
        self.state.state = "unreachable"
        self.state.reason = f"the job queue (Redis) cannot be reached: {why}"
        return _retry_later(RunnerUnavailableError(self.state.reason))

    # A job's messages.

    async def entries(
        self, job_id: int, after: str = "0-0"
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """The job's messages as they come, forever (the caller stops at the final one). With
        no news for a while and no runner alive to run the job, it is cancelled and the
        caller gets 503: never a wait without end."""
        key, last = self.keys.events(job_id), after
        silent_since = time.monotonic()
        while True:
            try:
                async with asyncio.timeout(BLOCK_MILLISECONDS / 1000 + COMMAND_SECONDS):
                    answer = await self._redis.xread(
                        {key: last}, count=256, block=BLOCK_MILLISECONDS
                    )
            except (RedisError, OSError, TimeoutError) as exc:
                raise self.unavailable(exc) from None
            if not answer:
                if time.monotonic() - silent_since > queue.LIVENESS_TTL_SECONDS:
                    await self._check_alive(job_id)
                continue
            silent_since = time.monotonic()
            for entry_id, fields in answer[0][1]:
                last = entry_id
                yield entry_id, queue.message(fields)

    async def _check_alive(self, job_id: int) -> None:
        """No news of the job for a while: it must still be known, and a runner alive to
        make it. A Redis restarted without persistence has forgotten both the job and its
        place in the queue: the caller gets 503 at once instead of waiting for nothing."""
        if not await self._call(self._redis.exists(self.keys.meta(job_id))):
            raise _retry_later(
                RunnerUnavailableError("the job queue lost this run (Redis restarted?)")
            )
        live = self._live(keys=[self.keys.runners], args=[self.keys.base])
        ready, warming, _ = await self._call(live)
        if not int(ready) and not int(warming):
            with contextlib.suppress(AppError):
                await self.cancel(job_id)
            raise _retry_later(
                RunnerUnavailableError("every code runner stopped before the run was made")
            )

    async def _answer(self, job_id: int) -> dict[str, Any]:
        """A playground job's result, or its error raised."""
        async for _, said in self.entries(job_id):
            if "result" in said:
                answer: dict[str, Any] = said["result"]
                return answer
            if "error" in said:
                raise error_of(said["error"])
        raise AssertionError("unreachable: entries never ends")

    async def queue_depth(self) -> dict[str, int]:
        """Jobs no runner has taken yet, by lane ("short", "long"): the consumer group's lag,
        which is also what a KEDA scaler on the streams reads (deploy/k8s)."""
        depths: dict[str, int] = {}
        for lane in get_args(queue.Lane):
            stream = self.keys.stream(lane)
            if not await self._call(self._redis.exists(stream)):  # no job yet
                depths[lane] = 0
                continue
            groups = await self._call(self._redis.xinfo_groups(stream))
            ours = [g for g in groups if g.get("name") == queue.GROUP]
            depths[lane] = int(ours[0].get("lag") or 0) if ours else 0
        return depths

    # Where the runners stand.

    async def monitor(self) -> None:
        """Keep `state` current: ready if any live runner is ready, else warming if one is
        warming, else off (with the reason) or unreachable (none alive, or Redis down)."""
        while True:
            await self._refresh()
            if self.state.settled:
                self._settled.set()
            await asyncio.sleep(MONITOR_SECONDS)

    async def _refresh(self) -> None:
        try:
            async with asyncio.timeout(COMMAND_SECONDS):
                ready, warming, off = await self._live(
                    keys=[self.keys.runners], args=[self.keys.base]
                )
                said = await self._any_said()
        except (RedisError, OSError, TimeoutError) as exc:
            self.unavailable(exc)
            return
        if int(ready):
            self.state.state, self.state.reason = "ready", None
        elif int(warming):
            self.state.state, self.state.reason = "warming", None
        elif off:
            self.state.state, self.state.reason = "off", off
        else:
            self.state.state = "unreachable"
            self.state.reason = "no code runner is connected to the job queue"
        if said:
            self.state.mode, self.state.torch = said.get("mode"), said.get("torch")
            self._heard.set()

    async def _any_said(self) -> dict[str, Any] | None:
        """What a live runner last said of itself (a ready one first): its mode and torch."""
        runners = sorted(await queue.answered(self._redis.smembers(self.keys.runners)))
        if not runners:
            return None
        said = [
            json.loads(s)
            for s in await self._redis.mget([self.keys.alive(r) for r in runners])
            if s
        ]
        said.sort(key=lambda s: KNOWN_STATES.get(s.get("state", "")) != "ready")
        return said[0] if said else None

    async def heard(self) -> RunnerState:
        await self._heard.wait()
        return self.state

    async def settled(self) -> RunnerState:
        await self._settled.wait()
        return self.state

    async def aclose(self) -> None:
        await self._redis.aclose()


class QueuedRun:
    """A run admitted to the queue (QueueRunner.open_streamed), read from its job's stream."""

    def __init__(self, runner: QueueRunner, job: int, kind: str, started: float) -> None:
        self._runner, self.job, self._kind, self._started = runner, job, kind, started
        self._ended = False

    async def follow(
        self,
        on_output: Callable[[str], Awaitable[None]],
        on_start: Callable[[], Awaitable[None]] | None = None,
    ) -> RunResult:
        try:
            return await observed(self._kind, self._read(on_output, on_start), self._started)
        finally:
            await self.close()

    async def result(self) -> RunResult:
        """The result without its output as it comes (QueueRunner.run); stopped if the caller
        goes away."""
        try:
            return await self._read(_ignore, None)
        finally:
            await self.close()

    async def _read(
        self,
        on_output: Callable[[str], Awaitable[None]],
        on_start: Callable[[], Awaitable[None]] | None,
    ) -> RunResult:
        """A run made again (its runner stopped) prints again from its start: what was
        already passed on is not passed on twice (the same program prints the same)."""
        told = 0  # characters of output passed on
        printed = 0  # characters of output this attempt has printed
        started = False
        async for _, said in self._runner.entries(self.job):
            if "output" in said:
                text: str = said["output"]
                printed += len(text)
                if printed > told:
                    await on_output(text[len(text) - (printed - told) :])
                    told = printed
            elif "started" in said and not started:
                started = True
                if on_start is not None:
                    await on_start()
            elif "retry" in said:
                printed = 0
            elif "result" in said:
                self._ended = True
                return RunResult.model_validate(said["result"])
            elif "error" in said:
                self._ended = True
                raise error_of(said["error"])
        raise AssertionError("unreachable: entries never ends")

    async def close(self) -> None:
        """Give the run up unread: it is cancelled wherever it is."""
        if not self._ended:
            self._ended = True
            with contextlib.suppress(AppError):
                await asyncio.shield(self._runner.cancel(self.job))


async def _ignore(text: str) -> None:
    return None


def _run_body(request: RunRequest) -> dict[str, Any]:
    return request.model_dump(mode="json", exclude_none=True)


def error_of(said: dict[str, Any]) -> AppError:
    """A runner's {"code", "message"}, as the error the HTTP client would raise."""
    message = str(said.get("message") or "the code runner could not make the run")
    if said.get("code") == "too_costly":
        from app.runner.errors import TooCostlyError

        return TooCostlyError(message, field=said.get("field"))
    if said.get("code") == "runner_off":
        return RunnerOffError(message)
    if said.get("code") in ("queue_full", "rate_limited"):
        return TooManyRunsError(message)
    return RunnerUnavailableError(message)


def _retry_later(error: AppError) -> AppError:
    error.headers = {"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)}
    return error
