"""How the web app reaches the runner: HTTP over a Unix socket (embedded) or TCP (a service)."""

from __future__ import annotations

import json

import httpx

from app.core.errors import AppError
from app.runner.playground import PlaygroundParams, PlaygroundResult
from app.runner.protocol import RunRequest, RunResult


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

    async def _post(self, path: str, body: str) -> httpx.Response:
        try:
            response = await self._client.post(
                path, content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise RunnerUnavailableError(f"the code runner cannot be reached ({exc})") from None
        if response.status_code == 429:
            error = TooManyRunsError(response.json().get("message", "too many runs"))
            error.headers = {"Retry-After": response.headers.get("retry-after", "1")}
            raise error
        if response.status_code != 200:
            raise RunnerUnavailableError(_message(response))
        return response

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
