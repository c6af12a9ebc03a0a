"""The runner's errors have the app's shape and codes, each with its status and headers, rendered
by one handler: refusals at the gate, past a rate, past a queue, a lab job that is not there, a
body that does not validate. The runner here has no sandbox, so no workers: nothing runs, and
each test says where it stands (ready, warming or off)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from starlette.testclient import TestClient

from app.runner.protocol import WARMING
from app.runner.sandbox import Sandbox
from app.runner.server import create_runner_app
from app.runner.settings import RunnerSettings
from app.training.config import LabConfig
from tests.runner.test_playground_cost import TOO_MANY_PARAMETERS

OFF = "Running code is off: no sandbox here (test)."
TOKEN = "errors-test-token"
CONFIG = LabConfig(epochs=1).model_dump(mode="json")
NOT_RUN = "the runner's worker is restarting; try again"
NO_TOKEN = "this runner needs its bearer token"


@contextlib.contextmanager
def runner(state: str = "ready", **settings: Any) -> Iterator[TestClient]:
    """The runner service without a sandbox (so without workers), standing as `state`."""
    app = create_runner_app(RunnerSettings(token=TOKEN, **settings), sandbox=Sandbox(None, OFF))
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        app.state.readiness.state = state
        yield client


def error(status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"status": status, "code": code, "message": message, "field": field}


def test_a_call_without_the_token_is_refused_before_its_body_is_read() -> None:
    with runner() as client:
        for token in ("", "Bearer wrong"):
            refused = client.post("/v1/runs", json={"code": 5}, headers={"Authorization": token})
            assert refused.status_code == 401
            assert refused.json() == error(401, "unauthorized", NO_TOKEN)
        assert client.get("/healthz", headers={"Authorization": ""}).status_code == 200


def test_a_warming_runner_refuses_every_route_with_retry_after() -> None:
    with runner("warming") as client:
        for path, body in [
            ("/v1/runs", {"code": "x = 1"}),
            ("/v1/playground", {"params": {}}),
            ("/v1/runs/cancel", {"handle": "h"}),
            ("/v1/lab/jobs", {"config": CONFIG}),
        ]:
            refused = client.post(path, json=body)
            assert refused.status_code == 503, path
            assert refused.json() == error(503, "runner_warming", WARMING), path
            assert refused.headers["retry-after"] == "5", path


def test_a_runner_without_a_sandbox_says_why_on_every_route() -> None:
    with runner("off") as client:
        for refused in (
            client.post("/v1/runs", json={"code": "x = 1"}),
            client.get("/v1/lab/jobs/1/events"),
        ):
            assert refused.status_code == 503
            assert refused.json() == error(503, "runner_off", OFF)
            assert "retry-after" not in refused.headers


def test_past_the_learners_rate_a_run_is_429_naming_the_limit_with_retry_after() -> None:
    with runner(burst=1, per_minute=1) as client:
        first = client.post("/v1/runs", json={"code": "x = 1", "learner": "a"})
        limited = client.post("/v1/runs", json={"code": "x = 1", "learner": "a"})
    assert first.status_code == 503, "allowed, but no worker here to run it"
    assert first.json() == error(503, "runner_unavailable", NOT_RUN)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert limited.json()["message"].startswith("too many runs from you (1 at once")
    assert int(limited.headers["retry-after"]) >= 1


def test_a_streamed_run_that_cannot_be_made_ends_with_its_error_code() -> None:
    with runner() as client:
        streamed = client.post("/v1/runs/stream", json={"code": "x = 1"})
    assert streamed.status_code == 200
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert lines == [{"error": {"code": "runner_unavailable", "message": NOT_RUN}}]


def test_a_too_costly_playground_request_is_422_naming_the_field() -> None:
    with runner() as client:
        refused = client.post("/v1/playground", json={"params": TOO_MANY_PARAMETERS})
    assert refused.status_code == 422
    body = refused.json()
    assert (body["code"], body["field"]) == ("too_costly", "params.hidden_size")


def test_the_lab_queue_refuses_a_second_job_of_a_learner_its_share_and_past_its_depth() -> None:
    with runner(lab_queue_depth=2, lab_queue_per_address=1) as client:
        first = client.post("/v1/lab/jobs", json={"config": CONFIG, "learner": "a", "address": "X"})
        again = client.post("/v1/lab/jobs", json={"config": CONFIG, "learner": "a"})
        share = client.post("/v1/lab/jobs", json={"config": CONFIG, "learner": "b", "address": "X"})
        second = client.post("/v1/lab/jobs", json={"config": CONFIG, "learner": "c"})
        full = client.post("/v1/lab/jobs", json={"config": CONFIG, "learner": "d"})
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["events"] == [{"type": "queued", "position": 1}]
    for refused, code in [(again, "run_in_progress"), (share, "queue_share"), (full, "queue_full")]:
        assert refused.status_code == 429, code
        assert refused.json()["code"] == code
        assert refused.headers["retry-after"] == "5", code
    assert full.json()["message"] == "the runner is busy; try again"


def test_a_lab_job_that_is_not_there_is_404_and_one_cancelled_in_the_queue_ends_at_once() -> None:
    with runner() as client:
        missing = client.get("/v1/lab/jobs/99/events")
        not_cancelled = client.post("/v1/lab/jobs/99/cancel")
        job = client.post("/v1/lab/jobs", json={"config": CONFIG}).json()["id"]
        cancelled = client.post(f"/v1/lab/jobs/{job}/cancel")
        events = client.get(f"/v1/lab/jobs/{job}/events")
    assert missing.status_code == not_cancelled.status_code == 404
    assert missing.json() == error(404, "not_found", "no lab job 99")
    assert cancelled.json() == {"id": job, "cancel_requested": True}
    lines = [json.loads(line)["type"] for line in events.text.splitlines()]
    assert lines == ["queued", "cancelled"]


def test_a_body_that_does_not_validate_is_422_naming_each_field() -> None:
    with runner() as client:
        run = client.post("/v1/runs", json={"code": 5, "kind": "nope"})
        lab = client.post("/v1/lab/jobs", json={"config": {"cell": "TRANSFORMER"}})
        nowhere = client.get("/v1/nowhere")
    assert run.status_code == lab.status_code == 422
    assert run.json()["code"] == "validation_error"
    assert {e["field"] for e in run.json()["errors"]} == {"code", "kind"}
    assert lab.json()["field"] == "config.cell"
    assert nowhere.status_code == 404
    assert nowhere.json() == error(404, "not_found", "nothing at /v1/nowhere")
