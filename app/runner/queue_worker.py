"""A runner's consumer of the Redis job queue (`torchquiz runner --queue redis://...`): the jobs
app replicas queued (app.runner.queue_client), made by the same functions as the HTTP routes'
(app.runner.services), their messages added to each job's stream (app.runner.queue).

- It reads from a lane's stream (consumer group `runners`) only as many jobs as it has free
  places there: snippets up to `parallel`, training up to the lab trainers plus `lab_code_parallel`.
- While it holds a job it claims it again every heartbeat (XCLAIM ... JUSTID) so that its idle
  time stays low, and says it is alive (queue.LIVENESS_*).
- Every heartbeat it takes over jobs idle longer than `queue_reclaim_seconds` (XAUTOCLAIM): their
  runner died. A snippet is answered with an error (queue.RUNNER_STOPPED); a training job is
  queued again once, then failed.
- A cancel (pub/sub) stops the run it names if this runner holds it; a job taken after its
  cancel is answered cancelled at once.
- Told to stop (SIGTERM), it reads no more jobs, finishes its short ones (for up to
  STOP_GRACE_SECONDS) and hands its training jobs back to the queue for another runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from app.core import request_ids
from app.core.errors import AppError
from app.core.redis import connect
from app.runner import queue
from app.runner.lab_pool import FINAL, LabJob
from app.runner.playground import PlaygroundParams
from app.runner.protocol import LimitHit, RunRequest, RunResult
from app.runner.services import Services, torch_version
from app.runner.settings import RunnerSettings

log = logging.getLogger("torchquiz.runner")
# Short jobs still running when the runner is told to stop get this long to finish (a snippet's
# wall limit is 10 s); then they are handed back too.
STOP_GRACE_SECONDS = 15.0
# A Redis that does not answer: the loops wait this long and try again.
RETRY_SECONDS = 1.0


@dataclass(eq=False)
class Held:
    """A job this runner has taken from a lane's stream and not yet finished or handed back."""

    lane: queue.Lane
    entry: str  # its entry id in the lane's stream
    job: int
    kind: str  # run, playground, lab
    body: str
    request_id: str
    attempt: int
    task: asyncio.Task[None] | None = None
    lab_job: LabJob | None = None
    handing_back: bool = False

    @classmethod
    def of(cls, lane: queue.Lane, entry: str, fields: dict[str, str]) -> Held:
        return cls(
            lane,
            entry,
            int(fields["job"]),
            fields["kind"],
            fields["body"],
            fields.get("request_id", ""),
            int(fields.get("attempt", "1")),
        )

    @property
    def handle(self) -> str:
        """The run's handle in this runner's pool: to cancel it there."""
        return f"queue-{self.job}"


class QueueWorker:
    def __init__(self, settings: RunnerSettings, services: Services) -> None:
        self.settings, self.services = settings, services
        self.keys = queue.QueueKeys(settings.redis_prefix)
        self.name = f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.heartbeat = settings.queue_reclaim_seconds / queue.HEARTBEATS_PER_RECLAIM
        config = services.pool.config
        self.places: dict[queue.Lane, int] = {
            "short": config.parallel,
            "long": config.lab_workers + config.lab_code_parallel,
        }
        self.held: dict[str, Held] = {}  # by entry id
        self._free = {lane: asyncio.Event() for lane in self.places}
        self._stopping = False
        self._redis: aioredis.Redis = connect(settings.queue)
        self._finish = self._redis.register_script(queue.FINISH)
        self._requeue = self._redis.register_script(queue.REQUEUE)
        self._tasks: list[asyncio.Task[None]] = []
        self._consumers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """The groups made if new, then the loops started (jobs are read once ready)."""
        for lane in self.places:
            await self._make_group(lane)
        await self._say_alive()
        self._consumers = [asyncio.create_task(self._consume(lane)) for lane in self.places]
        loops = [self._alive(), self._keep(), self._cancels()]
        self._tasks = [*self._consumers, *(asyncio.create_task(loop) for loop in loops)]
        log.info("runner %s takes jobs from the queue at %s", self.name, self.keys.base)

    async def _make_group(self, lane: queue.Lane) -> None:
        """The lane's stream and consumer group, made unless they exist. Also after a restart
        of a Redis that kept nothing: the app's XADD makes the stream again, not the group."""
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await self._redis.xgroup_create(self.keys.stream(lane), queue.GROUP, "0", mkstream=True)

    # Taking jobs.

    async def _consume(self, lane: queue.Lane) -> None:
        stream = self.keys.stream(lane)
        while not self._stopping:
            free = self.places[lane] - sum(1 for h in self.held.values() if h.lane == lane)
            if free <= 0 or self.services.readiness.state != "ready":
                self._free[lane].clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._free[lane].wait(), 1.0)
                continue
            try:
                answer = await self._redis.xreadgroup(
                    queue.GROUP, self.name, {stream: ">"}, count=free, block=1000
                )
            except (RedisError, OSError) as exc:
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    log.warning("the job queue lost its group (Redis restarted?): made again")
                    await self._make_group(lane)
                    continue
                log.warning("the job queue: %s", exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for _, entries in answer or []:
                for entry, fields in entries:
                    if self._stopping:  # read as it was told to stop: for another runner
                        await self._queue_again(Held.of(lane, entry, fields))
                    else:
                        self._take(lane, entry, fields)

    def _take(self, lane: queue.Lane, entry: str, fields: dict[str, str]) -> Held:
        held = self.held[entry] = Held.of(lane, entry, fields)
        held.task = asyncio.create_task(self._make(held))
        return held

    async def _make(self, held: Held) -> None:
        """The job made, its messages added, its end recorded (once), unless handed back. Its
        log lines carry the request id of the app's request that queued it (this task's own
        context: app.core.logs adds it to every line)."""
        request_ids.current.set(held.request_id or None)
        log.info("job %d (%s, attempt %d) taken", held.job, held.kind, held.attempt)
        final: dict[str, Any]
        try:
            meta = self.keys.meta(held.job)
            state, cancel = await queue.answered(self._redis.hmget(meta, ["state", "cancel"]))
            if state == "done":  # ended already, by a runner thought dead: nothing to do
                await self._ack(held)
                self._let_go(held)
                return
            await queue.answered(self._redis.hset(meta, "runner", self.name))
            if cancel:
                final = _cancelled(held.kind)
            elif held.kind == "run":
                final = await self._run(held)
            elif held.kind == "playground":
                final = await self._explore(held)
            else:
                final = await self._train(held)
        except AppError as exc:
            final = _failed(held.kind, exc.code, exc.message)
        except (RedisError, OSError) as exc:  # its messages could not be added: taken back
            log.error("job %d: the job queue failed (%s); it will be taken back", held.job, exc)
            self._let_go(held)
            return
        except asyncio.CancelledError:  # handed back, or the runner stops: stop the job here
            if held.lab_job is not None:
                self.services.lab.cancel(held.lab_job)
            if not held.handing_back:
                self._let_go(held)
            raise
        except Exception as exc:  # a job it cannot read, or a fault here: ended, never held on
            log.exception("job %d failed in the runner", held.job)
            final = _failed(held.kind, "runner_failed", f"the code runner failed: {exc}")
        if held.handing_back:
            return
        try:
            await self._end(held, final)
        except (RedisError, OSError) as exc:
            log.error("job %d: its end could not be recorded (%s)", held.job, exc)
        finally:
            self._let_go(held)
        log.info("job %d ended", held.job)

    def _let_go(self, held: Held) -> None:
        self.held.pop(held.entry, None)
        self._free[held.lane].set()

    async def _run(self, held: Held) -> dict[str, Any]:
        body = RunRequest.model_validate_json(held.body).model_copy(update={"handle": held.handle})
        said: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        running = self.services.start_run(
            body,
            lambda text: said.put_nowait({"output": text}),
            lambda: said.put_nowait({"started": True}),
        )
        adding = asyncio.create_task(self._add_all(held, said))
        try:
            result = await running
        finally:
            said.put_nowait({})  # the end of the messages
            await adding
        return {"result": result.model_dump(mode="json")}

    async def _add_all(self, held: Held, said: asyncio.Queue[dict[str, Any]]) -> None:
        """The run's messages as they come, in order, until the empty one."""
        while message := await said.get():
            await self._add(held, message)

    async def _explore(self, held: Held) -> dict[str, Any]:
        params = PlaygroundParams.model_validate(json.loads(held.body)["params"])
        result = await self.services.explore(params)
        return {"result": result.model_dump(mode="json")}

    async def _train(self, held: Held) -> dict[str, Any]:
        body = json.loads(held.body)
        job = held.lab_job = self.services.lab.submit(
            body["config"], body.get("learner"), body.get("address")
        )
        async for event in self.services.lab.follow(job):
            if event["type"] in FINAL:
                return dict(event)
            await self._add(held, event)
        return {"type": "failed", "message": "the training ended without a result"}

    async def _add(self, held: Held, message: dict[str, Any]) -> None:
        key = self.keys.events(held.job)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"m": json.dumps(message)})
            pipe.expire(key, queue.JOB_TTL_SECONDS)
            await pipe.execute()

    async def _ack(self, held: Held) -> None:
        stream = self.keys.stream(held.lane)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, queue.GROUP, held.entry)
            pipe.xdel(stream, held.entry)
            await pipe.execute()

    async def _end(self, held: Held, final: dict[str, Any]) -> None:
        keys = [
            self.keys.inflight,
            self.keys.stream(held.lane),
            self.keys.meta(held.job),
            self.keys.events(held.job),
        ]
        args: list[str | int] = [queue.GROUP, held.entry, json.dumps(final), queue.JOB_TTL_SECONDS]
        await self._finish(keys=keys, args=args)

    # Staying alive, heartbeats, taking back the jobs of runners that died.

    async def _alive(self) -> None:
        while True:
            with contextlib.suppress(RedisError, OSError):
                await self._say_alive()
            await asyncio.sleep(queue.LIVENESS_EVERY_SECONDS)

    async def _say_alive(self) -> None:
        readiness = self.services.readiness
        said = {
            "state": "stopping" if self._stopping else readiness.state,
            "mode": readiness.mode,
            "reason": readiness.reason,
            "torch": torch_version(),
            "held": len(self.held),
        }
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.alive(self.name), json.dumps(said), ex=queue.LIVENESS_TTL_SECONDS)
            pipe.sadd(self.keys.runners, self.name)
            await pipe.execute()

    async def _keep(self) -> None:
        """Every heartbeat: the jobs held claimed again, the dead runners' jobs taken back."""
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._claim_held()
                if not self._stopping:
                    for lane in self.places:
                        await self._reclaim(lane)
            except (RedisError, OSError) as exc:
                log.warning("the job queue: %s", exc)

    async def _claim_held(self) -> None:
        for lane in self.places:
            entries: list[int | bytes | str | memoryview] = [
                h.entry for h in self.held.values() if h.lane == lane
            ]
            if entries:
                await self._redis.xclaim(
                    self.keys.stream(lane), queue.GROUP, self.name, 0, entries, justid=True
                )

    async def _reclaim(self, lane: queue.Lane) -> None:
        idle_ms = int(self.settings.queue_reclaim_seconds * 1000)
        stream = self.keys.stream(lane)
        answer = await self._redis.xautoclaim(
            stream, queue.GROUP, self.name, idle_ms, "0-0", count=16
        )
        for entry, fields in answer[1]:
            if not fields:  # deleted meanwhile
                await self._redis.xack(stream, queue.GROUP, entry)
                continue
            await self._taken_back(Held.of(lane, entry, fields))

    async def _taken_back(self, held: Held) -> None:
        """A job whose runner died: a training job queued again once; anything else ended."""
        if held.lane == "long" and held.attempt < queue.TRAINING_ATTEMPTS:
            log.warning(
                "job %d: its runner stopped; queued again (request %s)",
                held.job,
                held.request_id or "-",
            )
            await self._queue_again(held, held.attempt + 1)
            return
        log.warning(
            "job %d: its runner stopped; failed (request %s)", held.job, held.request_id or "-"
        )
        message = queue.TRAINING_STOPPED if held.lane == "long" else queue.RUNNER_STOPPED
        await self._end(held, _failed(held.kind, "runner_stopped", message))

    async def _queue_again(self, held: Held, attempt: int | None = None) -> None:
        """Queued again as a new entry (`attempt`: the same by default, a hand-back)."""
        keys = [self.keys.stream(held.lane), self.keys.events(held.job), self.keys.meta(held.job)]
        args: list[str | int] = [
            queue.GROUP,
            held.entry,
            held.job,
            held.kind,
            held.body,
            held.request_id,
            attempt or held.attempt,
            queue.JOB_TTL_SECONDS,
        ]
        await self._requeue(keys=keys, args=args)

    # Cancels.

    async def _cancels(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.keys.cancel)
                    async for said in pubsub.listen():
                        if said.get("type") == "message":
                            self._cancel(int(said["data"]))
            except (RedisError, OSError) as exc:
                log.warning("the job queue's cancels: %s", exc)
                await asyncio.sleep(RETRY_SECONDS)

    def _cancel(self, job: int) -> None:
        for held in list(self.held.values()):
            if held.job != job:
                continue
            log.info("job %d cancelled (request %s)", job, held.request_id or "-")
            if held.kind == "run":
                self.services.pool.cancel(held.handle)
            elif held.kind == "lab" and held.lab_job is not None:
                self.services.lab.cancel(held.lab_job)

    # Stopping.

    async def stop(self) -> None:
        """No more jobs read; training handed back at once, short jobs given STOP_GRACE_SECONDS
        to finish and handed back after; then the loops end."""
        self._stopping = True
        for lane in self.places:
            self._free[lane].set()
        await asyncio.wait(self._consumers, timeout=5)  # they end within a read's BLOCK
        with contextlib.suppress(RedisError, OSError):
            await self._say_alive()
        await self._hand_back([h for h in self.held.values() if h.lane == "long"])
        short = [h.task for h in self.held.values() if h.task is not None]
        if short:
            await asyncio.wait(short, timeout=STOP_GRACE_SECONDS)
        await self._hand_back(list(self.held.values()))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(self.keys.alive(self.name))
            await queue.answered(self._redis.srem(self.keys.runners, self.name))
        await self._redis.aclose()

    async def _hand_back(self, held: list[Held]) -> None:
        """Stopped here, then queued again (the same attempt: it did not fail) for another
        runner: stopped first, so that every message it sent comes before the retry's."""
        for job in held:
            job.handing_back = True
            log.warning("job %d handed back (request %s)", job.job, job.request_id or "-")
            if job.task is not None:
                job.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job.task
            with contextlib.suppress(RedisError, OSError):
                await self._queue_again(job)
            self._let_go(job)


def _cancelled(kind: str) -> dict[str, Any]:
    if kind == "lab":
        return {"type": "cancelled"}
    cancelled = RunResult(ok=False, limit=LimitHit(name="cancelled", message="cancelled"))
    return {"result": cancelled.model_dump(mode="json")}


def _failed(kind: str, code: str, message: str) -> dict[str, Any]:
    if kind == "lab":
        return {"type": "failed", "message": message}
    return {"error": {"code": code, "message": message}}
