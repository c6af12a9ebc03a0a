"""A warm worker process of the runner (Shape playground, lab): started with a module and its
arguments, spoken to in JSON lines, and ready once it says {"event": "ready"}."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

from app.core.config import PROJECT_DIR
from app.runner.errors import WorkerUnavailableError
from app.runner.pool import ZYGOTE_ENV


class WarmProcess:
    module = ""  # set by each kind of worker

    def __init__(self, *args: str) -> None:
        self.args = args
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=ZYGOTE_ENV,  # nothing of the runner's environment
            cwd=PROJECT_DIR,
            limit=1 << 22,
        )
        assert self.process.stdout
        line = await self.process.stdout.readline()
        if not line or json.loads(line).get("event") != "ready":
            raise WorkerUnavailableError(f"the {self.module} worker did not start")

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    async def wait(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                await self.process.wait()
