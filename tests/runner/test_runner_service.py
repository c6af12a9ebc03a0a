"""The runner as a service: concurrency, queueing, rate limits, auth; and the app's API."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from app.core.config import PROJECT_DIR, Settings
from app.main import create_app
from app.runner.embedded import embedded_runner, listening
from app.runner.errors import QueueFullError
from app.runner.limits import DEFAULT_LIMITS, Limits
from app.runner.pool import PoolConfig, ZygotePool
from app.runner.ratelimit import RateLimiter
from tests.runner.conftest import MODE, TOKEN, Runner


@pytest.mark.serial  # its busy loop must reach 1 s of CPU within 3 s of wall-clock
def test_twenty_runs_at_once_with_one_hostile(runner: Runner) -> None:
    codes = [f"import torch\nx = torch.zeros({i + 1}, 3)\nprint({i})" for i in range(19)]
    codes.insert(7, "while True:\n    pass")
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(runner.run, codes))
    hostile = results.pop(7)
    assert hostile.limit is not None and hostile.limit.name == "cpu"
    for i, result in enumerate(results):
        assert result.ok, result
        assert result.stdout.strip() == str(i)
        assert [t.shape for t in result.tensors] == [[i + 1, 3]]


def test_service_refuses_a_missing_or_wrong_token(service: Runner) -> None:
    for token in ("", "wrong"):
        response = Runner(service.url, token).post("print(1)")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
    assert Runner(service.url, TOKEN).post("print(1)").status_code == 200


def test_bad_payload_is_422(runner: Runner) -> None:
    with runner.client() as client:
        response = client.post("/v1/runs", json={"code": 5, "kind": "nope"})
    assert response.status_code == 422


def test_full_queue_answers_429_with_retry_after() -> None:
    async def scenario() -> tuple[int, float]:
        pool = ZygotePool(PoolConfig(mode=MODE, slots=2, spares=1, parallel=1, queue_depth=1))
        await pool.start()
        try:
            slow = Limits(wall_seconds=2, cpu_seconds=2)
            tasks = [
                asyncio.create_task(pool.run("import time\ntime.sleep(1)", slow)) for _ in range(2)
            ]
            await asyncio.sleep(0.2)  # one running, one queued
            with pytest.raises(QueueFullError) as refused:
                await pool.run("print(1)", slow)
            done = await asyncio.gather(*tasks)
            return len(done), refused.value.retry_after
        finally:
            await pool.close()

    # A thread of its own: the browser tests' Playwright keeps an event loop in the main one.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        finished, retry_after = thread.submit(asyncio.run, scenario()).result()
    assert finished == 2
    assert retry_after >= 1


def test_rate_limiter_allows_a_burst_then_a_steady_rate() -> None:
    limiter = RateLimiter(burst=3, per_minute=60)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("a")
    assert 0 < wait <= 1.0
    assert limiter.take("b") == 0.0, "learners are limited separately"


def test_limits_never_exceed_the_ceiling() -> None:
    ceiling = Limits(cpu_seconds=5, memory_mb=1024)
    asked = Limits(cpu_seconds=60, memory_mb=512)
    granted = asked.within(ceiling)
    assert granted.cpu_seconds == 5 and granted.memory_mb == 512


def test_a_runner_by_default_allows_every_kinds_own_limits() -> None:
    ceiling = PoolConfig().ceiling
    for kind, limits in DEFAULT_LIMITS.items():
        assert limits.within(ceiling) == limits, kind
    assert ceiling.cpu_seconds == max(lim.cpu_seconds for lim in DEFAULT_LIMITS.values())


# --- the app's own API in front of the runner ---


def test_api_runs_code_and_reports_what_torch_did(app_client: TestClient) -> None:
    code = (
        "import torch\nrnn = torch.nn.GRU(5, 3, bidirectional=True)\n"
        "out, h_n = rnn(torch.randn(7, 4, 5))"
    )
    response = app_client.post("/api/v1/runs", json={"code": code})
    assert response.status_code == 200, response.text
    shapes = {t["name"]: t["shape"] for t in response.json()["tensors"]}
    assert shapes == {"out": [7, 4, 6], "h_n": [2, 4, 3]}


def test_api_reports_the_exception_with_the_learners_line(app_client: TestClient) -> None:
    response = app_client.post(
        "/api/v1/runs", json={"code": "import torch\n\ntorch.nn.RNN(4, 2)(torch.randn(3, 5))"}
    )
    exception = response.json()["exception"]
    assert exception["type"] == "RuntimeError" and exception["line"] == 3
    assert "torch.nn.RNN(4, 2)" in exception["traceback"]
    assert "/work" not in exception["traceback"], "only the learner's own lines"


def test_api_rate_limits_each_learner(app_client: TestClient) -> None:
    statuses = [
        app_client.post("/api/v1/runs", json={"code": "x = 1"}).status_code for _ in range(12)
    ]
    assert statuses[:10] == [200] * 10
    assert 429 in statuses[10:]
    limited = app_client.post("/api/v1/runs", json={"code": "x = 1"})
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1


def test_api_without_a_runner_is_503(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'none.sqlite3'}",
        instance_dir=tmp_path,
        secret_key="x",
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/runs", json={"code": "x = 1"})
    assert response.status_code == 503
    assert response.json()["code"] == "runner_off"  # no runner: running code is off


def test_api_rejects_an_empty_or_huge_snippet(app_client: TestClient) -> None:
    assert app_client.post("/api/v1/runs", json={"code": ""}).json()["field"] == "code"
    big = app_client.post("/api/v1/runs", json={"code": "#" * 70_000})
    assert big.status_code == 422 and big.json()["field"] == "code"


def test_unreachable_runner_is_a_clear_503(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}",
        instance_dir=tmp_path,
        secret_key="x",
        runner_url=f"unix://{tmp_path / 'nobody.sock'}",
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/runs", json={"code": "x = 1"})
    assert response.status_code == 503
    assert "cannot be reached" in response.json()["message"]


def test_an_embedded_runner_and_its_workers_die_with_the_app_even_on_sigkill(
    tmp_path: Path,
) -> None:
    with subprocess.Popen(  # stands in for `torchquiz serve`, killed without any clean-up
        [sys.executable, "-c", HOLDS_A_RUNNER, str(tmp_path / "r.sock")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    ) as app:
        assert app.stdout is not None
        url = app.stdout.readline().strip()
        (runner,) = _children(app.pid)
        with Runner(url, "").client() as client:  # its workers are starting: wait for them
            _poll(lambda: _answers(client, url) and len(_descendants(runner)) >= 4)
        tree = [runner, *_descendants(runner)]
        app.kill()
    deadline = time.monotonic() + 20
    while survivors := [pid for pid in tree if _state(pid) not in ("gone", "Z")]:
        assert time.monotonic() < deadline, f"outlived the app: {survivors}"
        time.sleep(0.1)


HOLDS_A_RUNNER = """
import sys, time
from pathlib import Path
from app.runner.embedded import embedded_runner
with embedded_runner(Path(sys.argv[1]), wait=False) as url:
    print(url, flush=True)
    time.sleep(600)
"""


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _descendants(pid: int) -> list[int]:
    found = _children(pid)
    return found + [d for child in found for d in _descendants(child)]


def _answers(client: httpx.Client, url: str) -> bool:
    return listening(url) and client.get("/healthz").status_code == 200


def _poll(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_a_run_is_cancelled_by_its_handle(runner: Runner) -> None:
    handle = f"cancel-me-{time.monotonic_ns()}"
    body = {"code": "while True:\n    pass", "handle": handle, "limits": {"cpu_seconds": 5}}

    def run() -> httpx.Response:
        with runner.client() as client:
            return client.post("/v1/runs", json=body)

    with concurrent.futures.ThreadPoolExecutor(1) as pool, runner.client() as client:
        running = pool.submit(run)
        time.sleep(0.5)  # it is spinning in the sandbox by now
        assert client.post("/v1/runs/cancel", json={"handle": handle}).json() == {"cancelled": True}
        result = running.result(timeout=10).json()
        again = client.post("/v1/runs/cancel", json={"handle": handle}).json()
    assert result["limit"] == {"name": "cancelled", "message": "cancelled"}
    assert result["cpu_ms"] < 4000, "killed at once, not at its CPU limit"
    assert again == {"cancelled": False}, "a finished run cannot be cancelled"


def test_the_embedded_runner_takes_its_lab_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHQUIZ_RUNNER_LAB_WORKERS", "2")
    with (
        embedded_runner(tmp_path / "r.sock", wait=False) as url,
        Runner(url, "").client() as client,
    ):  # workers count once started, warm or not
        _poll(
            lambda: _answers(client, url) and client.get("/healthz").json()["lab"]["workers"] == 2
        )


@pytest.mark.serial  # the gaps between its printed lines are timed
def test_a_streamed_run_sends_its_output_as_it_prints(runner: Runner) -> None:
    code = "import time\nfor i in range(4):\n    print(i, flush=True)\n    time.sleep(0.15)\n"
    messages = []
    with (
        runner.client() as client,
        client.stream("POST", "/v1/runs/stream", json={"code": code}) as r,
    ):
        for line in r.iter_lines():
            if line:
                messages.append((time.monotonic(), json.loads(line)))
    outputs = [(at, m["output"]) for at, m in messages if "output" in m]
    assert "".join(text for _, text in outputs) == "0\n1\n2\n3\n"
    assert len(outputs) >= 3, "printed lines arrive as they are printed, not all at the end"
    assert outputs[-1][0] - outputs[0][0] > 0.3
    result = messages[-1][1]["result"]
    assert result["ok"] and result["stdout"] == "0\n1\n2\n3\n"
