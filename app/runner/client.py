"""How the web app reaches the runner: HTTP over a Unix socket (embedded) or TCP (a service).

The runner listens at once and warms its workers in the background. Until they are up it
answers 503 runner_warming, and where the kernel allows no sandbox 503 runner_off with the
reason; this client turns those into the app's errors of the same codes (503, with
Retry-After while warming) and keeps `state`, where the runner stands, for pages and /readyz.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, Protocol, TypeVar

import httpx

from app.core import metrics, request_ids
from app.core.errors import AppError
from app.runner.errors import RETRY_AFTER_MS
from app.runner.errors import RunnerOffError as RunnerOffError
from app.runner.errors import RunnerWarmingError as RunnerWarmingError
from app.runner.playground import PlaygroundParams, PlaygroundResult
from app.runner.protocol import WARMING, WARMING_RETRY_SECONDS, RunRequest, RunResult
from app.runner.refusals import RecentRefusals
from app.training.config import LabConfig

log = logging.getLogger("torchquiz")

# TORCHQUIZ_RUNNER_URL=off: the operator turned running code off (`serve` starts no runner).
URL_OFF = "off"
OFF_HERE = "Running code is off on this server."
# How often the monitor asks the runner's /healthz: until it has settled, and afterwards.
SETTLING_POLL_SECONDS = 0.25
# An embedded runner's socket appears within a second or two: one that has not answered in
# this long did not start (its own error is in the server's log).
EMBEDDED_START_SECONDS = 60
SETTLED_POLL_SECONDS = 5.0


# RunnerWarmingError and RunnerOffError are the runner's own refusals (app.runner.errors),
# raised again here from its answer.


class RunnerUnavailableError(AppError):
    """The runner cannot be reached, or could not make the run (its answer says why)."""

    status = 503
    code = "runner_unavailable"


class TooManyRunsError(AppError):
    """The runner's 429, as it said it: rate-limited (the field names the bucket, "learner" or
    "address"), or a queue with no place; `seconds`: when to ask again."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, seconds: float = 1.0, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.seconds = seconds
        self.headers = {"Retry-After": str(max(1, math.ceil(seconds)))}


# What a run may meet instead of a result; a page shows it in place of the output.
REFUSALS = (RunnerWarmingError, RunnerOffError, RunnerUnavailableError, TooManyRunsError)


def refusal_note(exc: AppError) -> str:
    """A refused run, in a sentence for a page: "Your code was not run. The code runner..."."""
    message = exc.message.rstrip(".")
    return f"Your code was not run. {message[:1].upper()}{message[1:]}."


State = Literal["warming", "ready", "off", "unreachable"]
KNOWN_STATES: dict[str, State] = {"warming": "warming", "ready": "ready", "off": "off"}


@dataclass
class RunnerState:
    """Where the runner stands, as its /healthz last said: "warming", "ready" or "off" (with
    the reason); "unreachable" when it stopped answering."""

    state: State = "warming"
    mode: str | None = None
    reason: str | None = None
    torch: str | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def settled(self) -> bool:
        """Ready, or off for good: nothing to wait for."""
        return self.state in ("ready", "off")

    def note(self) -> str | None:
        """What a page says where a Run button would be; None when code can run."""
        if self.state == "warming":
            return f"Not yet: {WARMING}. Try again in a few seconds."
        if self.state == "off":
            return self.reason or OFF_HERE
        if self.state == "unreachable":
            why = self.reason or "the code runner cannot be reached"
            return f"Running code is unavailable: {why}."
        return None

    def error(self) -> AppError | None:
        """The error a run gets in this state (None when ready)."""
        if self.state == "warming":
            return RunnerWarmingError()
        if self.state == "off":
            return RunnerOffError(self.reason or OFF_HERE)
        if self.state == "unreachable":
            return RunnerUnavailableError(self.reason or "the code runner cannot be reached")
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "mode": self.mode, "reason": self.reason, "torch": self.torch}


class Streamed(Protocol):
    """A run a runner has accepted, its answer not yet read (`Runner.open_streamed`)."""

    async def follow(
        self,
        on_output: Callable[[str], Awaitable[None]],
        on_start: Callable[[], Awaitable[None]] | None = None,
    ) -> RunResult:
        """The run's result, hearing its start and its stdout as it prints."""
        ...

    async def close(self) -> None:
        """Give the run up unread: it is stopped."""
        ...


class Runner(Protocol):
    """What the web app uses of a code runner, wherever it is. Two implementations:
    RunnerClient (HTTP to the embedded runner `torchquiz serve` starts, or to a shared one)
    and app.runner.queue_client.QueueRunner (a Redis job queue that runner services consume,
    TORCHQUIZ_RUNNER_URL=redis://...). Refusals are the errors of this module: TooManyRunsError
    (429), RunnerWarmingError, RunnerOffError, RunnerUnavailableError (503)."""

    # A runner `torchquiz serve` started itself, running this very install.
    embedded: bool
    # Where the runner stands, kept current by `monitor`.
    state: RunnerState

    async def run(self, request: RunRequest) -> RunResult: ...

    async def playground(
        self, params: PlaygroundParams, learner: str | None, *, address: str | None = None
    ) -> PlaygroundResult: ...

    async def open_streamed(self, request: RunRequest) -> Streamed:
        """Returns once the run holds its place in the queue (refusals raised here)."""
        ...

    async def cancel_run(self, handle: str) -> bool: ...

    async def lab_submit(
        self, config: LabConfig, learner: str | None, *, address: str | None = None
    ) -> int: ...

    def lab_events(self, job_id: int, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The training job's events from index `after` to the final one."""
        ...

    async def lab_cancel(self, job_id: int) -> None: ...

    async def monitor(self) -> None:
        """Keep `state` current for the life of the app."""
        ...

    async def heard(self) -> RunnerState: ...

    async def settled(self) -> RunnerState: ...

    async def queue_depth(self) -> dict[str, int]:
        """Jobs waiting for a place, by queue, for /metrics (the names are the
        implementation's own queues)."""
        ...

    async def aclose(self) -> None: ...


def run_outcome(result: RunResult | PlaygroundResult | None, error: BaseException | None) -> str:
    """A run's end in app.core.metrics' words: ok, error (the code raised), limit (a sandbox
    limit stopped it), refused (429 or 503 before it ran) or failed (the runner could not)."""
    if error is not None:
        return "refused" if isinstance(error, REFUSALS) else "failed"
    if isinstance(result, RunResult):
        return "limit" if result.limit else ("ok" if result.ok else "error")
    if result is not None:
        return "limit" if result.limit else ("error" if result.error else "ok")
    return "failed"


def observe_run(
    kind: str,
    started: float,
    result: RunResult | PlaygroundResult | None = None,
    error: BaseException | None = None,
) -> None:
    """Count a run's end (RUNS, RUN_LIMITS) and how long it took from the request (`started`,
    time.monotonic()): both runner clients call this, once per run."""
    outcome = run_outcome(result, error)
    metrics.RUNS.labels(kind=kind, outcome=outcome).inc()
    if isinstance(result, RunResult) and result.limit:
        metrics.RUN_LIMITS.labels(kind=kind, limit=result.limit.name).inc()
    elif isinstance(result, PlaygroundResult) and result.limit:
        metrics.RUN_LIMITS.labels(kind=kind, limit="time").inc()
    if outcome != "refused":
        metrics.RUN_SECONDS.labels(kind=kind).observe(time.monotonic() - started)


Ended = TypeVar("Ended", RunResult, PlaygroundResult)


async def observed(kind: str, work: Awaitable[Ended], started: float | None = None) -> Ended:
    """`work`'s result, the run's end counted (observe_run) from `started` (else now), also
    when it raises."""
    started = time.monotonic() if started is None else started
    try:
        result = await work
    except Exception as exc:
        observe_run(kind, started, error=exc)
        raise
    observe_run(kind, started, result)
    return result


def embedded_socket(instance_dir: Path) -> Path:
    """Where `torchquiz serve` starts its own runner."""
    return instance_dir / "runner.sock"


def installed_torch() -> str | None:
    """This install's torch version, from the package metadata (torch is never imported here).
    The embedded runner runs this very install, so this is its version too."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


class RunnerClient:
    """`embedded`: a runner this server started a moment ago, on a socket that appears once it
    listens: until it first answers, a refused connection means "warming", not "gone" (for
    EMBEDDED_START_SECONDS at most: a runner that never answers did not start)."""

    def __init__(
        self, url: str, *, token: str = "", timeout: float = 120.0, embedded: bool = False
    ) -> None:
        self.url, self._token = url, token
        self.embedded = embedded
        self.state = RunnerState()
        self._answered = False  # has the runner ever answered?
        self._created = time.monotonic()
        self._heard, self._settled = asyncio.Event(), asyncio.Event()
        self.refusals = RecentRefusals()
        self._client = self._new_client(timeout)

    def _new_client(self, timeout: float) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        if self.url.startswith("unix://"):
            transport = httpx.AsyncHTTPTransport(uds=self.url.removeprefix("unix://"))
            base = "http://runner"
        else:
            transport, base = httpx.AsyncHTTPTransport(), self.url.rstrip("/")
        return httpx.AsyncClient(
            base_url=base,
            transport=transport,
            headers=headers,
            timeout=timeout,
            event_hooks={"request": [_carry_request_id]},
        )

    async def run(self, request: RunRequest) -> RunResult:
        return await observed(request.kind, self._run(request))

    async def _run(self, request: RunRequest) -> RunResult:
        body = request.model_dump_json(exclude_none=True)
        response = await self._post(
            "/v1/runs", body, limit="runs", learner=request.learner, address=request.address
        )
        return RunResult.model_validate_json(response.content)

    async def playground(
        self, params: PlaygroundParams, learner: str | None, *, address: str | None = None
    ) -> PlaygroundResult:
        return await observed("playground", self._playground(params, learner, address))

    async def _playground(
        self, params: PlaygroundParams, learner: str | None, address: str | None
    ) -> PlaygroundResult:
        body = json.dumps({"params": params.model_dump(), "learner": learner, "address": address})
        response = await self._post(
            "/v1/playground", body, limit="playground", learner=learner, address=address
        )
        return PlaygroundResult.model_validate_json(response.content)

    async def open_streamed(self, request: RunRequest) -> StreamedRun:
        """Start a run whose output streams, and return once the runner has accepted it (it
        holds its place in its kind's queue), before it has run: a refusal (429 with
        Retry-After, 503) is raised here, as `run` raises it. `StreamedRun.follow` then reads
        the run to its result; closing it unread stops the run."""
        sent = self._client.build_request(
            "POST",
            "/v1/runs/stream",
            content=request.model_dump_json(exclude_none=True),
            headers={"content-type": "application/json"},
            timeout=None,  # a run waits for its turn, silent, for minutes
        )
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._client.timeout.read):  # for the answer only
                response = await self._client.send(sent, stream=True)
            if response.status_code != 200:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            if response.status_code != 200:
                self._raise_for(response)
        except httpx.HTTPError as exc:
            observe_run(request.kind, started, error=(error := self._unreachable(exc)))
            raise error from None
        except TimeoutError:
            error = RunnerUnavailableError("the code runner did not answer in time")
            observe_run(request.kind, started, error=error)
            raise error from None
        except AppError as exc:
            observe_run(request.kind, started, error=exc)
            raise
        return StreamedRun(self, response, request.kind, started)

    async def cancel_run(self, handle: str) -> bool:
        """Stop the run started with this handle; False if none is going."""
        response = await self._post("/v1/runs/cancel", json.dumps({"handle": handle}))
        return bool(response.json()["cancelled"])

    async def lab_submit(
        self, config: LabConfig, learner: str | None, *, address: str | None = None
    ) -> int:
        """Queue a lab training job; its id. TooManyRunsError when the queue is full, the
        learner already has a job going or the address holds its share of the queue."""
        job = {"config": config.model_dump(mode="json"), "learner": learner, "address": address}
        body = json.dumps(job)
        response = await self._post("/v1/lab/jobs", body, ok=202)
        return int(response.json()["id"])

    async def lab_events(self, job_id: int, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The job's events from index `after`, as the runner sends them, to the final one."""
        url = f"/v1/lab/jobs/{job_id}/events"
        try:
            async with self._client.stream("GET", url, params={"after": after}, timeout=None) as r:
                if r.status_code != 200:
                    await r.aread()
                    self._raise_for(r)
                async for line in r.aiter_lines():
                    if line:
                        yield json.loads(line)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    async def lab_cancel(self, job_id: int) -> None:
        await self._post(f"/v1/lab/jobs/{job_id}/cancel", "{}")

    async def _post(
        self,
        path: str,
        body: str,
        *,
        ok: int = 200,
        limit: str = "",
        learner: str | None = None,
        address: str | None = None,
    ) -> httpx.Response:
        """`limit`: the runner's rate limit this call spends from ("runs", "playground"): a
        refusal it answered is answered again here until it lapses (app.runner.refusals)."""
        if limit and (refused := self.refusals.check(limit, learner=learner, address=address)):
            raise TooManyRunsError(
                refused.said_now(), seconds=refused.seconds(), field=refused.bucket
            )
        try:
            response = await self._client.post(
                path, content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        self._answered = True
        if response.status_code != ok:
            try:
                self._raise_for(response)
            except TooManyRunsError as exc:
                if limit and exc.field:
                    self.refusals.remember(
                        limit,
                        exc.field,
                        learner=learner,
                        address=address,
                        seconds=exc.seconds,
                        message=exc.message,
                    )
                raise
        if self.state.state == "unreachable":  # it answers again
            self.state.state = "ready"
        return response

    def _unreachable(self, exc: httpx.HTTPError) -> AppError:
        """A failed connection: an embedded runner that never answered is still starting."""
        if self._still_starting() and isinstance(exc, httpx.ConnectError):
            return RunnerWarmingError()
        self._mark_unreachable(exc)
        return RunnerUnavailableError(str(self.state.reason))

    def _still_starting(self) -> bool:
        return (
            self.embedded
            and not self._answered
            and time.monotonic() - self._created < EMBEDDED_START_SECONDS
        )

    def _mark_unreachable(self, exc: Exception) -> None:
        self.state.state = "unreachable"
        if self.embedded and not self._answered:
            self.state.reason = (
                f"the code runner did not start within {EMBEDDED_START_SECONDS} s ({exc}); "
                "the server's log says why"
            )
        else:
            self.state.reason = f"the code runner cannot be reached ({exc})"

    def _raise_for(self, response: httpx.Response) -> NoReturn:
        body = _json(response)
        message = str(body.get("message") or f"the code runner answered {response.status_code}")
        if response.status_code == 429:
            raise TooManyRunsError(
                str(body.get("message") or "too many runs"),
                seconds=_seconds(response),
                field=body.get("field"),
            )
        code = body.get("code")
        if response.status_code == 503 and code == "runner_warming":
            self.state.state = "warming"
            retry = response.headers.get("retry-after", "")
            raise RunnerWarmingError(int(retry) if retry.isdigit() else WARMING_RETRY_SECONDS)
        if response.status_code == 503 and code == "runner_off":
            self.state.state, self.state.reason = "off", message
            raise RunnerOffError(message)
        raise RunnerUnavailableError(message)

    async def monitor(self) -> None:
        """Keep `state` current for the life of the app: ask the runner's /healthz often until
        it is ready or off, then every few seconds (a restarted runner warms up again; one that
        stops answering is unreachable). With a connection of its own, so that this loop never
        shares one with a request."""
        async with self._new_client(timeout=5.0) as client:
            quiet_until = time.monotonic() + 30
            while True:
                await self._refresh(client)
                if self.state.settled:
                    self._settled.set()
                elif time.monotonic() > quiet_until:  # say so now and then, not every poll
                    level = logging.INFO if self.state.state == "warming" else logging.WARNING
                    log.log(level, "the code runner at %s is %s", self.url, self.state.state)
                    quiet_until = time.monotonic() + 60
                settled = self.state.settled
                await asyncio.sleep(SETTLED_POLL_SECONDS if settled else SETTLING_POLL_SECONDS)

    async def _refresh(self, client: httpx.AsyncClient) -> None:
        try:
            response = await client.get("/healthz")
            health = response.raise_for_status().json()
            said = health.get("state") or ("ready" if health.get("ready") else "warming")
        except (httpx.HTTPError, ValueError, AttributeError) as exc:  # AttributeError: not {}
            if not self._still_starting():
                self._mark_unreachable(exc)
            return
        self._answered = True
        self._heard.set()
        self.state.state = KNOWN_STATES.get(said, "unreachable")
        self.state.mode, self.state.reason = health.get("mode"), health.get("reason")
        self.state.torch = str(health["torch"]) if health.get("torch") else None

    async def heard(self) -> RunnerState:
        """Once the runner has answered at all, warming up or not: its torch version is known
        (`monitor` must be running)."""
        await self._heard.wait()
        return self.state

    async def settled(self) -> RunnerState:
        """Once the runner is ready or off (`monitor` must be running)."""
        await self._settled.wait()
        return self.state

    async def queue_depth(self) -> dict[str, int]:
        """Jobs waiting, by queue ("snippet", "lab_code", "training"), as the runner's /healthz
        says: for /metrics (app.core.metrics.QueueDepth), asked at scrape time."""
        response = await self._client.get("/healthz", timeout=2.0)
        health = response.raise_for_status().json()
        lanes = health.get("lanes") or {}
        return {
            "snippet": int((lanes.get("short") or {}).get("queued", 0)),
            "lab_code": int((lanes.get("lab_code") or {}).get("queued", 0)),
            "training": int((health.get("lab") or {}).get("queued", 0)),
        }

    async def aclose(self) -> None:
        await self._client.aclose()


def _seconds(response: httpx.Response) -> float:
    """When to ask again: to the millisecond if the runner said so, else whole seconds."""
    for header, scale in ((RETRY_AFTER_MS, 1000), ("retry-after", 1)):
        with contextlib.suppress(ValueError):
            return float(response.headers.get(header, "")) / scale
    return 1.0


class StreamedRun:
    """A run the runner has accepted (RunnerClient.open_streamed), its answer's lines not yet
    read: {"started"} once it has started, {"output"} as it prints, then its result."""

    def __init__(
        self, runner: RunnerClient, response: httpx.Response, kind: str, started: float
    ) -> None:
        self._runner, self._response = runner, response
        self._kind, self._started = kind, started

    async def follow(
        self,
        on_output: Callable[[str], Awaitable[None]],
        on_start: Callable[[], Awaitable[None]] | None = None,
    ) -> RunResult:
        """The run's result, hearing its start (`on_start`: not every runner says it) and its
        stdout as it prints; the stream is closed afterwards, whatever happened."""
        return await observed(self._kind, self._read(on_output, on_start), self._started)

    async def _read(
        self,
        on_output: Callable[[str], Awaitable[None]],
        on_start: Callable[[], Awaitable[None]] | None,
    ) -> RunResult:
        try:
            async for line in self._response.aiter_lines():
                message = json.loads(line) if line else {}
                if "output" in message:
                    await on_output(message["output"])
                elif "started" in message and on_start is not None:
                    await on_start()
                elif "result" in message:
                    return RunResult.model_validate(message["result"])
                elif "error" in message:
                    raise RunnerUnavailableError(message["error"]["message"])
        except httpx.HTTPError as exc:
            raise self._runner._unreachable(exc) from None
        finally:
            await self._response.aclose()
        raise RunnerUnavailableError("the runner ended the run's stream without a result")

    async def close(self) -> None:
        """Give the run up unread: the runner stops it when the connection goes."""
        await self._response.aclose()


def _json(response: httpx.Response) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            return body
    return {}


async def _carry_request_id(request: httpx.Request) -> None:
    """The runner's log lines for this call name the request that asked for it, as a queued
    job's do (app.runner.queue_client)."""
    if found := request_ids.current.get():
        request.headers["X-Request-ID"] = found
