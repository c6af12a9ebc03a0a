"""How the web app reaches the runner: HTTP over a Unix socket (embedded) or TCP (a service)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn

import httpx

from app.core.errors import AppError
from app.lab.config import LabConfig
from app.runner.playground import PlaygroundParams, PlaygroundResult
from app.runner.protocol import RunRequest, RunResult

log = logging.getLogger("torchquiz")


class RunnerUnavailableError(AppError):
    status = 503
    code = "runner_unavailable"


class TooManyRunsError(AppError):
    status = 429
    code = "rate_limited"


class RunnerClient:
    def __init__(self, url: str, *, token: str = "", timeout: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if url.startswith("unix://"):
            transport = httpx.AsyncHTTPTransport(uds=url.removeprefix("unix://"))
            base = "http://runner"
        else:
            transport, base = httpx.AsyncHTTPTransport(), url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=base, transport=transport, headers=headers, timeout=timeout
        )

    async def run(self, request: RunRequest) -> RunResult:
        response = await self._post("/v1/runs", request.model_dump_json(exclude_none=True))
        return RunResult.model_validate_json(response.content)

    async def playground(self, params: PlaygroundParams, learner: str | None) -> PlaygroundResult:
        body = json.dumps({"params": params.model_dump(), "learner": learner})
        response = await self._post("/v1/playground", body)
        return PlaygroundResult.model_validate_json(response.content)

    async def run_streamed(
        self, request: RunRequest, on_output: Callable[[str], Awaitable[None]]
    ) -> RunResult:
        """As `run`, hearing the code's stdout as it prints (for a long run, such as a lab
        model training)."""
        body = request.model_dump_json(exclude_none=True)
        headers = {"content-type": "application/json"}
        try:
            async with self._client.stream(
                "POST", "/v1/runs/stream", content=body, headers=headers, timeout=None
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    self._raise_for(response)
                async for line in response.aiter_lines():
                    message = json.loads(line) if line else {}
                    if "output" in message:
                        await on_output(message["output"])
                    elif "result" in message:
                        return RunResult.model_validate(message["result"])
                    elif "error" in message:
                        raise RunnerUnavailableError(message["error"]["message"])
        except httpx.HTTPError as exc:
            raise RunnerUnavailableError(f"the code runner cannot be reached ({exc})") from None
        raise RunnerUnavailableError("the runner ended the run's stream without a result")

    async def cancel_run(self, handle: str) -> bool:
        """Stop the run started with this handle; False if none is going."""
        response = await self._post("/v1/runs/cancel", json.dumps({"handle": handle}))
        return bool(response.json()["cancelled"])

    async def lab_submit(self, config: LabConfig, learner: str | None) -> int:
        """Queue a lab training job; its id. TooManyRunsError when the queue is full or the
        learner already has a job going."""
        body = json.dumps({"config": config.model_dump(mode="json"), "learner": learner})
        response = await self._post("/v1/lab/jobs", body, ok=202)
        return int(response.json()["id"])

    async def lab_events(self, job_id: int, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The job's events from index `after`, as the runner sends them, to the final one."""
        url = f"/v1/lab/jobs/{job_id}/events"
        try:
            async with self._client.stream("GET", url, params={"after": after}, timeout=None) as r:
                if r.status_code != 200:
                    await r.aread()
                    raise RunnerUnavailableError(_message(r))
                async for line in r.aiter_lines():
                    if line:
                        yield json.loads(line)
        except httpx.HTTPError as exc:
            raise RunnerUnavailableError(f"the code runner cannot be reached ({exc})") from None

    async def lab_cancel(self, job_id: int) -> None:
        await self._post(f"/v1/lab/jobs/{job_id}/cancel", "{}")

    async def _post(self, path: str, body: str, *, ok: int = 200) -> httpx.Response:
        try:
            response = await self._client.post(
                path, content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise RunnerUnavailableError(f"the code runner cannot be reached ({exc})") from None
        if response.status_code != ok:
            self._raise_for(response)
        return response

    @staticmethod
    def _raise_for(response: httpx.Response) -> NoReturn:
        if response.status_code == 429:
            error = TooManyRunsError(response.json().get("message", "too many runs"))
            error.headers = {"Retry-After": response.headers.get("retry-after", "1")}
            raise error
        raise RunnerUnavailableError(_message(response))

    async def health(self) -> dict[str, object]:
        try:
            response = await self._client.get("/healthz")
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RunnerUnavailableError(f"the code runner cannot be reached ({exc})") from None
        return response.json()  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self._client.aclose()


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message"))
    except ValueError:
        return f"the code runner answered {response.status_code}"


async def torch_version_of(runner: RunnerClient | None) -> str | None:
    """The torch version the runner computes with, or None without a runner that answers."""
    if runner is None:
        return None
    try:
        health = await runner.health()
    except AppError as exc:
        log.warning("the runner did not answer (%s)", exc)
        return None
    torch = health.get("torch")
    return str(torch) if torch else None
