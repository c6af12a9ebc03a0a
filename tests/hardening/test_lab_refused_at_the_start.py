"""A learner's own lab model that the runner refuses is refused at the start, by the POST
itself (the JSON API's error shape, or the lab page saying why), with the runner's status,
message and Retry-After, and no run is stored. What the app decides without the runner comes
first: an identical earlier run is served from the cache, and a learner with a run going is
refused as such. Against a real runner whose lab refuses every run (lab_refusing_runner), on
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from app.lab import service
from app.learners.service import find_learner
from app.training.config import LabConfig
from tests.hardening.support import csrf

MODEL = """
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(50, 5)

    def forward(self, words):
        return self.out(words.mean(dim=1))
"""
BUSY = "the runner is busy; try again"  # the runner's own message for a full queue


def a_new_learner(client: TestClient) -> dict[str, str]:
    """Forget the last test's learner; the new one's bearer header, and its public id in a
    header of the test's own (the app reads no X-Learner)."""
    client.cookies.clear()
    me = client.get("/api/v1/me").json()
    client.cookies.clear()
    return {"Authorization": f"Bearer {me['token']}", "X-Learner": me["learner_id"]}


def runs_of(client: TestClient, learner: dict[str, str]) -> int:
    runs = client.get("/api/v1/lab/runs", headers=learner)
    assert runs.status_code == 200, runs.text
    return int(runs.json()["total"])


def stored_run(
    client: TestClient, learner: dict[str, str] | None, seed: int, **fields: Any
) -> None:
    """A run of MODEL with this seed, stored as the lab stores one, with these fields."""
    lab = client.app.state.lab  # type: ignore[attr-defined]
    with lab.database.transaction() as db:
        found = find_learner(db, learner["X-Learner"]) if learner else None
        assert found or not learner, "the learner is stored"
        run = service.new_run(
            db,
            found.id if found else None,
            LabConfig(seed=seed),
            task=False,
            torch_version=lab.torch_version,
            code=MODEL,
        )
        for name, value in fields.items():
            setattr(run, name, value)


def test_a_refused_own_model_is_answered_at_the_post_and_stores_no_run(
    live_client: TestClient, lab_queue_full: None
) -> None:
    learner = a_new_learner(live_client)
    body = {"code": MODEL, "config": {"seed": 5}, "task": False}
    refused = live_client.post("/api/v1/lab/runs", json=body, headers=learner)
    assert refused.status_code == 429, refused.text
    assert refused.json()["status"] == 429 and refused.json()["message"] == BUSY
    assert int(refused.headers["retry-after"]) >= 1
    job = live_client.post("/api/v1/lab/runs", json={"config": {"seed": 5}}, headers=learner)
    assert (job.status_code, job.json()["code"]) == (429, refused.json()["code"]), (
        "the same refusal as the runner's other lab refusals"
    )
    assert runs_of(live_client, learner) == 0, "a refused run leaves no trace"


def test_the_advanced_form_shows_the_refusal_on_the_lab_page_and_stores_no_run(
    live_client: TestClient, lab_queue_full: None
) -> None:
    live_client.cookies.clear()
    token = csrf(live_client.get("/topics/birnn/lab").text)
    form = {"csrf_token": token, "code": MODEL, "code_seed": "6"}
    refused = live_client.post("/topics/birnn/lab/code", data=form, follow_redirects=False)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert f"The model was not trained: {BUSY}" in refused.text
    assert "class Model(nn.Module)" in refused.text, "the code is shown back as typed"
    assert live_client.get("/api/v1/lab/runs").json()["total"] == 0


def test_an_identical_earlier_run_is_served_from_the_cache_without_asking_the_runner(
    live_client: TestClient, lab_queue_full: None
) -> None:
    outcome = {"val_accuracy": 0.8, "train_accuracy": 0.85, "parameters": 255, "best_epoch": 20}
    stored_run(live_client, None, 7, status="done", outcome=outcome, epochs=[])
    learner = a_new_learner(live_client)
    body = {"code": MODEL, "config": {"seed": 7}, "task": False}
    served = live_client.post("/api/v1/lab/runs", json=body, headers=learner)
    assert served.status_code == 202, served.text
    assert served.json()["status"] == "done" and served.json()["cached"] is True
    assert runs_of(live_client, learner) == 1


def test_a_learner_with_a_run_going_is_refused_as_such_before_the_runner_is_asked(
    live_client: TestClient, lab_queue_full: None
) -> None:
    learner = a_new_learner(live_client)
    practice = {"topic": "birnn", "mode": "practice"}
    assert live_client.post("/api/v1/sessions", json=practice, headers=learner).status_code == 201
    stored_run(live_client, learner, 8, status="running")
    body = {"code": MODEL, "config": {"seed": 9}, "task": False}
    refused = live_client.post("/api/v1/lab/runs", json=body, headers=learner)
    assert refused.status_code == 429 and refused.json()["code"] == "run_in_progress"
    assert runs_of(live_client, learner) == 1


def test_snippets_still_run_on_the_runner_that_refuses_the_lab(
    live_client: TestClient, lab_queue_full: None
) -> None:
    ran = live_client.post("/api/v1/runs", json={"code": "print(6 * 7)"})
    assert ran.status_code == 200, ran.text
    assert ran.json()["ok"] and ran.json()["stdout"] == "42\n"
