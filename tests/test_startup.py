"""Start-up never waits for the code runner: pages answer at once, runs are refused with 503
and Retry-After until the runner is warm, /readyz says where things stand, and parameterised
questions and the lab arrive once the runner is ready. On SQLite and PostgreSQL.

The runners here are the real service (app.runner.server): one kept warming for good (its
workers' start never ends), one with no sandbox (off), and a fresh one started the way
`torchquiz serve` starts its own, which warms up for real while the app already serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.testclient import TestClient

from app.lab.config import BASELINE
from app.main import create_app
from app.runner import client as client_module
from app.runner.client import embedded_socket
from app.runner.embedded import embedded_runner
from app.runner.lab_pool import LabPool
from app.runner.playground_pool import PlaygroundPool
from app.runner.pool import ZygotePool
from app.runner.sandbox import Sandbox
from app.runner.server import create_runner_app
from app.runner.settings import RunnerSettings
from tests.conftest import make_settings, own_database, until_ready

WARMING = "the code runner is warming up"
OFF_REASON = "Running code is off: the kernel said no (test). To turn it on: nothing (test)."
TEMPLATES = {"bilstm-hn-shape-random-sizes", "bilstm-param-count-random-sizes"}
PLAYGROUND = {"cell": "GRU", "input_size": 4, "hidden_size": 3, "input_shape": [2, 5, 4]}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An empty database: no variants stored by an earlier start."""
    yield from own_database(request.param, tmp_path_factory, "startup")


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """An ASGI app served by uvicorn in a thread on a free port of 127.0.0.1; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


async def _never() -> None:
    await asyncio.Event().wait()


@pytest.fixture(scope="module")
def warming_runner() -> Iterator[str]:
    """The real runner service whose workers never finish starting: warming for good."""
    with pytest.MonkeyPatch.context() as patch:
        for pool in (ZygotePool, PlaygroundPool, LabPool):
            patch.setattr(pool, "start", lambda self: _never())
        app = create_runner_app(RunnerSettings(), sandbox=Sandbox("rootless"))
        with served(app) as url:
            patch.undo()  # its lifespan has begun: the workers' start is already waiting
            yield url


@pytest.fixture(scope="module")
def off_runner() -> Iterator[str]:
    """The real runner service where the kernel allows no sandbox."""
    with served(create_runner_app(RunnerSettings(), sandbox=Sandbox(None, OFF_REASON))) as url:
        yield url


@contextlib.contextmanager
def started(url: str, folder: Path, runner_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(url, folder, runner_url=runner_url))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def warming(
    fresh_url: str, warming_runner: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app beside a runner that is still warming up (and has said so once)."""
    with started(fresh_url, tmp_path_factory.mktemp("warming"), warming_runner) as client:
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["runner"]["mode"] is None:
            assert time.monotonic() < deadline, "the runner's /healthz was never heard"
            time.sleep(0.02)
        yield client


@pytest.fixture(scope="module")
def off(
    fresh_url: str, off_runner: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app beside a runner that says running code is off (no sandbox here)."""
    with started(fresh_url, tmp_path_factory.mktemp("off"), off_runner) as client:
        until_ready(client)
        yield client


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def practice(client: TestClient, kind: str) -> tuple[str, int, dict[str, Any]]:
    """A medium practice session and the position of a question of `kind` in it:
    "predict" (predict-then-run) or "code"."""
    body = {"topic": "birnn", "mode": "practice", "difficulty": "medium"}
    session = client.post("/api/v1/sessions", json=body).json()
    for position in range(1, session["total"] + 1):
        item = client.get(f"/api/v1/sessions/{session['id']}/questions/{position}").json()
        question = item["question"]
        if (kind == "code") == (question["type"] == "code") and (
            kind == "code" or question["predict_then_run"]
        ):
            return session["id"], position, question
    raise AssertionError(f"no {kind} question among the medium ones")


def assert_warming(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert WARMING in response.text.lower()


# --- while the runner warms up ---


def test_the_first_page_answers_while_the_runner_is_still_warming(warming: TestClient) -> None:
    assert warming.get("/readyz").json()["runner"]["state"] == "warming"
    home = warming.get("/")
    assert home.status_code == 200 and "Bidirectional RNNs in PyTorch" in home.text
    assert warming.get("/topics/birnn").status_code == 200
    assert warming.get("/healthz").json() == {"status": "ok"}


def test_api_runs_answer_503_with_retry_after_while_warming(warming: TestClient) -> None:
    for path, body in (
        ("/api/v1/runs", {"code": "x = 1"}),
        ("/api/v1/playground", PLAYGROUND),
        ("/api/v1/lab/runs", {"config": BASELINE.model_dump(mode="json"), "task": False}),
    ):
        response = warming.post(path, json=body)
        assert_warming(response)
        assert response.json() == {
            "status": 503,
            "code": "runner_warming",
            "message": WARMING,
            "field": None,
        }
    assert warming.get("/api/v1/lab/runs").json()["total"] == 0, "a refused run leaves no trace"


def test_readyz_is_503_with_retry_after_while_warming(warming: TestClient) -> None:
    response = warming.get("/readyz")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    body = response.json()
    assert body["status"] == "warming" and body["database"] == "ok"
    assert body["runner"]["state"] == "warming" and body["runner"]["mode"] == "rootless"
    assert body["questions"] == "waiting for the code runner"


def test_parameterised_questions_are_left_out_until_their_variants_are_computed(
    warming: TestClient,
) -> None:
    listed = warming.get("/api/v1/topics/birnn/questions?limit=100").json()["items"]
    slugs = {q["id"] for q in listed}
    assert slugs and not slugs & TEMPLATES
    assert "{{" not in warming.get("/topics/birnn/learn").text


def test_predict_then_run_says_the_runner_is_warming_instead_of_waiting(
    warming: TestClient,
) -> None:
    session_id, position, question = practice(warming, "predict")
    url = f"/practice/{session_id}/{position}"
    page = warming.get(url)
    # Any answer the question takes (its order is the learner's own: a choice or a shape first).
    answer = "A" if question["type"].endswith("_choice") else "2, 3"
    answered = warming.post(url, data={"csrf_token": csrf(page.text), "answer": answer})
    assert answered.status_code == 200 and "What PyTorch really did" in answered.text
    assert WARMING in answered.text
    run = warming.post(
        f"{url}/run", data={"csrf_token": csrf(page.text), "code": question["snippet"] or "x = 1"}
    )
    assert_warming(run)
    assert 'id="run-output" role="status"' in run.text
    assert "Your code was not run. The code runner is warming up." in run.text


def test_a_code_answer_is_not_counted_while_the_runner_warms_up(warming: TestClient) -> None:
    session_id, position, _ = practice(warming, "code")
    url = f"/practice/{session_id}/{position}"
    page = warming.get(url)
    assert WARMING in page.text  # said beside the button, before anything is sent
    code = "def masked_mean(x, lengths):\n    return x.mean(1)\n"
    answered = warming.post(url, data={"csrf_token": csrf(page.text), "answer": code})
    assert_warming(answered)
    assert "does not count as an attempt" in answered.text
    assert "return x.mean(1)" in answered.text  # the learner's code is kept
    api = f"/api/v1/sessions/{session_id}/answers"
    assert_warming(warming.post(api, json={"position": position, "answer": code}))
    progress = warming.get(f"/api/v1/sessions/{session_id}").json()
    assert progress["answered_positions"] == []


def test_the_playground_and_the_lab_say_the_runner_is_warming(warming: TestClient) -> None:
    blank = warming.get("/playground")
    assert blank.status_code == 200 and WARMING in blank.text
    asked = warming.get("/playground", params={**PLAYGROUND, "input_shape": "2, 5, 4"})
    assert_warming(asked)
    assert 'id="playground-summary" role="status"' in asked.text
    lab = warming.get("/topics/birnn/lab")
    assert lab.status_code == 200 and WARMING in lab.text
    train = warming.post(
        "/topics/birnn/lab", data={"csrf_token": csrf(lab.text), "preset": "baseline"}
    )
    assert_warming(train)
    assert "The run was not started" in train.text


# --- running code off on purpose ---


def test_readyz_is_200_when_the_runner_says_running_code_is_off(off: TestClient) -> None:
    response = off.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["runner"] == {
        "state": "off",
        "mode": None,
        "reason": OFF_REASON,
        "torch": response.json()["runner"]["torch"],
    }
    refused = off.post("/api/v1/runs", json={"code": "x = 1"})
    assert refused.status_code == 503 and refused.json()["code"] == "runner_off"
    assert refused.json()["message"] == OFF_REASON
    for page in ("/playground", "/topics/birnn/lab"):
        assert OFF_REASON in off.get(page).text, page


def test_readyz_is_200_when_the_operator_turned_running_code_off(
    fresh_url: str, tmp_path: Path
) -> None:
    with started(fresh_url, tmp_path, "off") as client:
        until_ready(client, timeout=30)
        body = client.get("/readyz").json()
        assert body["status"] == "ready" and body["runner"]["state"] == "off"
        refused = client.post("/api/v1/playground", json=PLAYGROUND)
        assert refused.status_code == 503 and refused.json()["code"] == "runner_off"
        assert "Running code is off on this server." in client.get("/playground").text


# --- a fresh runner warming up for real, beside an app that already serves ---


@pytest.fixture(scope="module")
def fresh(fresh_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app and a fresh runner started together, as `torchquiz serve` starts them: the
    runner on the instance's own socket, not waited for."""
    folder = tmp_path_factory.mktemp("fresh")
    with (
        embedded_runner(embedded_socket(folder), wait=False) as url,
        started(fresh_url, folder, url) as client,
    ):
        yield client


def test_pages_answer_while_a_fresh_runner_warms_up_then_it_runs_code(fresh: TestClient) -> None:
    started_at = time.monotonic()
    assert fresh.get("/").status_code == 200
    assert_warming(fresh.post("/api/v1/runs", json={"code": "x = 1"}))
    assert fresh.get("/readyz").status_code == 503
    assert time.monotonic() - started_at < 2
    until_ready(fresh)
    ran = fresh.post("/api/v1/runs", json={"code": "import torch\nx = torch.ones(2, 3)"})
    assert ran.status_code == 200 and ran.json()["tensors"][0]["shape"] == [2, 3]


def test_readyz_turns_200_once_the_runner_is_ready(fresh: TestClient) -> None:
    until_ready(fresh)
    response = fresh.get("/readyz")
    assert response.status_code == 200 and "retry-after" not in response.headers
    body = response.json()
    assert body["status"] == "ready" and body["questions"] == "ready"
    assert body["runner"]["state"] == "ready" and body["runner"]["mode"] in (
        "privileged",
        "rootless",
    )


def test_parameterised_questions_appear_once_their_variants_are_computed(
    fresh: TestClient,
) -> None:
    until_ready(fresh)
    app: FastAPI = fresh.app  # type: ignore[assignment]
    for slug in TEMPLATES:
        assert len(app.state.catalog.question(slug).variant_ids) > 1
    listed = fresh.get("/api/v1/topics/birnn/questions?limit=100").json()["items"]
    assert {q["id"] for q in listed} >= TEMPLATES


def test_the_lab_trains_once_the_runner_is_ready(fresh: TestClient) -> None:
    until_ready(fresh)
    page = fresh.get("/topics/birnn/lab")
    assert WARMING not in page.text and "Train</button>" in page.text
    config = BASELINE.model_copy(update={"epochs": 2, "seed": 3}).model_dump(mode="json")
    run = fresh.post("/api/v1/lab/runs", json={"config": config, "task": False})
    assert run.status_code == 202, run.text
    deadline = time.monotonic() + 60
    while (status := fresh.get(f"/api/v1/lab/runs/{run.json()['id']}").json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status["status"] == "done" and len(status["epochs"]) == 2


def test_an_embedded_runner_that_never_answers_is_reported_as_not_started(
    fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The instance's own socket, as `serve` would start a runner on, but no runner comes.
    monkeypatch.setattr(client_module, "EMBEDDED_START_SECONDS", 0.5)
    with started(fresh_url, tmp_path, f"unix://{embedded_socket(tmp_path)}") as client:
        assert_warming(client.post("/api/v1/runs", json={"code": "x = 1"}))
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["runner"]["state"] != "unreachable":
            assert time.monotonic() < deadline, "still warming, for ever"
            time.sleep(0.05)
        refused = client.post("/api/v1/runs", json={"code": "x = 1"})
        page = client.get("/playground")
    assert refused.status_code == 503 and refused.json()["code"] == "runner_unavailable"
    assert "did not start within 0.5 s" in refused.json()["message"]
    assert "did not start within 0.5 s" in page.text
