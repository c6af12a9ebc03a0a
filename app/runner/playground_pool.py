"""Warm Shape playground workers, run from asyncio: one request at a time each, a bounded wait
behind them, and a worker that takes too long is killed and replaced. Heavy requests (near the
cost bounds, app.runner.playground.is_heavy) also wait for one of `workers - 1` heavy places:
a flood of them holds at most that many cores, and a light request always finds a worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from app.runner.errors import QueueFullError, WorkerUnavailableError
from app.runner.playground import PlaygroundParams, PlaygroundResult, build_code, is_heavy
from app.runner.warm import WarmProcess

log = logging.getLogger("torchquiz.runner")


class _Worker(WarmProcess):
    module = "app.runner.playground"

    def __init__(self, mode: str, uid: int) -> None:
        super().__init__(mode, str(uid))
        self.served = 0

    async def ask(self, params: PlaygroundParams) -> PlaygroundResult:
        assert self.process and self.process.stdin and self.process.stdout
        self.served += 1
        request = {"id": self.served, "params": params.model_dump()}
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        line = await self.process.stdout.readline()
        if not line:
            raise WorkerUnavailableError("the playground worker stopped")
        return PlaygroundResult.model_validate(json.loads(line)["result"])


class PlaygroundPool:
    def __init__(
        self,
        *,
        workers: int,
        mode: str,
        uid_base: int,
        timeout: float = 3.0,
        start_timeout: float = 120.0,
        queue_depth: int = 32,
    ) -> None:
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.queue_depth = queue_depth
        self._workers = [_Worker(mode, uid_base + i) for i in range(workers)]
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._heavy = asyncio.Semaphore(max(1, workers - 1))
        self._waiting = 0
        self._replacing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        async with asyncio.timeout(self.start_timeout):
            await asyncio.gather(*(worker.start() for worker in self._workers))
        for worker in self._workers:
            self._idle.put_nowait(worker)

    async def explore(self, params: PlaygroundParams) -> PlaygroundResult:
        heavy = is_heavy(params)
        if self._waiting >= self.queue_depth and (heavy or self._idle.empty()):
            raise QueueFullError(retry_after=1.0)
        async with contextlib.AsyncExitStack() as held:
            self._waiting += 1  # for a heavy place, then for a worker
            try:
                if heavy:
                    await held.enter_async_context(self._heavy)
                worker = await self._idle.get()
            finally:
                self._waiting -= 1
            return await self._ask(worker, params)

    async def _ask(self, worker: _Worker, params: PlaygroundParams) -> PlaygroundResult:
        try:
            async with asyncio.timeout(self.timeout):
                result = await worker.ask(params)
        except TimeoutError:
            self._replacing.add(asyncio.create_task(self._replace(worker)))
            limit = f"stopped after {self.timeout:g} s of wall-clock time; try smaller sizes"
            return PlaygroundResult(code=build_code(params), limit=limit)
        except (WorkerUnavailableError, ValueError):
            self._replacing.add(asyncio.create_task(self._replace(worker)))
            raise WorkerUnavailableError("the playground worker stopped; try again") from None
        self._idle.put_nowait(worker)
        return result

    async def _replace(self, worker: _Worker) -> None:
        """Kill a worker that overran or died, and bring it back warm (takes a few seconds)."""
        worker.stop()
        while True:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.start_timeout):
                    await worker.start()
                break
            except (TimeoutError, WorkerUnavailableError, OSError) as exc:
                log.error("playground worker failed to start: %s", exc)
                worker.stop()
                await asyncio.sleep(max(0.0, 5 - (time.monotonic() - started)))
        self._idle.put_nowait(worker)
        self._replacing.discard(asyncio.current_task())

    def ready(self) -> bool:
        return any(w.alive() for w in self._workers)

    async def close(self) -> None:
        for task in self._replacing:
            task.cancel()
        for worker in self._workers:
            worker.stop()
            await worker.wait()
