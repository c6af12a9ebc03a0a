"""The lab through the app's API and pages, with the real runner training in its sandbox,
on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.lab import service
from app.lab.config import SOLUTION, TASK
from app.lab.models import LabRun
from app.lab.pages import SOLUTION_CODE
from app.lab.running import Lab
from app.main import create_app
from tests.conftest import _scratch_postgres, make_settings, until_ready
from tests.lab.sse import Learner

BIG = {"bidirectional": True, "hidden_size": 128}  # 47,365 parameters: over the task's limit


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def lab_app(
    request: pytest.FixtureRequest, runner_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """An app of its own: lab runs commit from background tasks, outside any test transaction."""
    folder = tmp_path_factory.mktemp("lab")
    urls = iter([f"sqlite:///{folder / 'lab.sqlite3'}"]) if request.param == "sqlite" else None
    source = urls if urls else _scratch_postgres()
    url = next(source)
    app = create_app(make_settings(url, folder, runner_url=runner_url))
    with TestClient(app) as client:  # one client, one event loop: the lab's tasks live in it
        until_ready(client)
        yield client
    if not urls:
        next(source, None)  # drops the scratch database


def learner(client: TestClient) -> Learner:
    return Learner(client)


def start(client: Learner, config: dict[str, Any], *, task: bool = True) -> Any:
    return client.post("/api/v1/lab/runs", json={"config": config, "task": task})


def events(client: Learner, run_id: str) -> list[tuple[str, Any]]:
    """Every server-sent event of a run, until the stream ends."""
    found, kind = [], None
    with client.stream(f"/api/v1/lab/runs/{run_id}/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                found.append((kind, json.loads(line.removeprefix("data: "))))
    return found


@pytest.mark.serial  # a busy machine's reader may get every epoch at once
def test_a_run_streams_every_epoch_then_its_verdict(lab_app: Any) -> None:
    client = learner(lab_app)
    config = SOLUTION.model_copy(update={"seed": 11}).model_dump(mode="json")
    started = start(client, config)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"

    seen = events(client, started.json()["id"])
    runs = [data for kind, data in seen if kind == "run"]
    assert seen[-1][0] == "end"
    progress = [len(r["epochs"]) for r in runs]
    assert progress == sorted(progress) and progress[-1] == 20
    # How many updates a reader sees depends on the machine's load (a busy reader gets several
    # epochs at once), so only this: progress arrives before the run ends.
    assert any(0 < p < 20 for p in progress), "epochs arrive during the run, not all at the end"
    final = runs[-1]
    assert final["status"] == "done" and final["torch_version"]
    assert final["verdict"][0]["name"].startswith("Validation accuracy at least")
    assert final["passed"] == all(c["passed"] for c in final["verdict"])
    assert final["val_accuracy"] == final["epochs"][-1]["val_accuracy"]
    assert client.get(f"/api/v1/lab/runs/{final['id']}").json() == final
    assert client.get("/api/v1/lab/runs").json()["items"][0]["id"] == final["id"]


def test_an_identical_run_is_served_from_the_cache(lab_app: Any) -> None:
    first, second = learner(lab_app), learner(lab_app)
    config = SOLUTION.model_copy(update={"seed": 12, "epochs": 20}).model_dump(mode="json")
    trained = events(first, start(first, config).json()["id"])[-2][1]
    again = start(second, config)
    assert again.status_code == 202
    assert again.json()["status"] == "done" and again.json()["cached"] is True
    assert again.json()["epochs"] == trained["epochs"]
    assert again.json()["id"] != trained["id"]
    # Each run is held by the server process that started it (its hold renewed while it lives).
    lab = lab_app.app.state.lab
    with lab.database.transaction() as db:
        held = db.scalar(select(LabRun).where(LabRun.public_id == trained["id"]))
        assert held is not None and held.owner == lab.owner and held.lease_until is not None


def test_run_times_carry_their_time_zone_on_every_database(lab_app: Any) -> None:
    client = learner(lab_app)
    config = SOLUTION.model_copy(update={"seed": 12, "epochs": 20}).model_dump(mode="json")
    assert start(client, config).json()["cached"] is True  # trained by the test above
    listed = client.get("/api/v1/lab/runs").json()["items"][0]
    for moment in (listed["created_at"], listed["finished_at"]):
        assert datetime.fromisoformat(moment).utcoffset() == timedelta(0), moment


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (BIG, "model size: 47,365 parameters is more than 2.5 times"),
        ({"epochs": 30}, "training procedure: keep the baseline's epochs 20"),
        ({"lr": 0.01, "batch_size": 32}, "lr 0.001, batch_size 8"),
    ],
)
def test_a_broken_constraint_is_refused_by_name(
    lab_app: Any, config: dict[str, Any], words: str
) -> None:
    client = learner(lab_app)
    refused = start(client, config)
    assert refused.status_code == 422
    assert refused.json()["code"] == "task_constraint" and words in refused.json()["message"]
    assert client.get("/api/v1/lab/runs").json()["total"] == 0, "nothing was started"


def test_a_bad_config_names_its_field(lab_app: Any) -> None:
    client = learner(lab_app)
    bad = start(client, {"num_layers": 1, "layer_dropout": 0.5})
    assert bad.status_code == 422 and bad.json()["field"] == "config.layer_dropout"
    unknown = start(client, {"hidden": 64})
    assert unknown.status_code == 422 and unknown.json()["field"] == "config.hidden"


def wait_for_epoch(client: Learner, run_id: str) -> None:
    deadline = time.monotonic() + 60
    while not client.get(f"/api/v1/lab/runs/{run_id}").json()["epochs"]:
        assert time.monotonic() < deadline, "the run never trained an epoch"
        time.sleep(0.05)


def test_cancel_stops_a_run_and_one_run_at_a_time(lab_app: Any) -> None:
    client = learner(lab_app)
    long = {**BIG, "epochs": 40, "seed": 3}
    run = start(client, long, task=False)  # exploration: no size limit
    assert run.status_code == 202, run.text
    second = start(client, {"seed": 4})
    assert second.status_code == 429 and second.json()["code"] == "run_in_progress"
    assert second.headers["retry-after"]

    wait_for_epoch(client, run.json()["id"])
    cancelled = client.post(f"/api/v1/lab/runs/{run.json()['id']}/cancel")
    assert cancelled.status_code == 200
    final = events(client, run.json()["id"])[-2][1]
    assert final["status"] == "cancelled" and 1 <= len(final["epochs"]) < 40
    assert final["verdict"] == [] and final["passed"] is None
    assert start(client, {"seed": 4}).status_code == 202, "free again after the cancel"


def test_learners_do_not_see_each_others_runs(lab_app: Any) -> None:
    owner, other = learner(lab_app), learner(lab_app)
    run_id = start(owner, {"seed": 21}).json()["id"]
    assert other.get(f"/api/v1/lab/runs/{run_id}").status_code == 404
    assert other.get(f"/api/v1/lab/runs/{run_id}/events").status_code == 404
    assert other.post(f"/api/v1/lab/runs/{run_id}/cancel").status_code == 404
    assert other.get(f"/lab/runs/{run_id}").status_code == 404
    assert other.get("/api/v1/lab/runs").json()["total"] == 0
    assert events(owner, run_id)[-2][1]["status"] == "done"


def test_the_page_shows_the_reference_runs_story_from_the_first_visit(lab_app: Any) -> None:
    client = learner(lab_app)
    facts = client.get("/api/v1/lab").json()
    assert len(facts["references"]) == 5, "stored at start-up: the first visitor does not wait"
    base, solution = facts["references"]["baseline"], facts["references"]["solution"]
    assert base["train_mean"] >= 0.93 and base["val_mean"] <= 0.80
    assert solution["val_mean"] >= 0.85 and solution["train_mean"] < 0.92
    page = client.get("/topics/birnn/lab")
    assert page.status_code == 200
    assert f"{base['val_mean'] * 100:.1f}%" in page.text
    assert f"{solution['val_mean'] * 100:.1f}%" in page.text
    assert "Accuracy per epoch, seed 0" in page.text
    assert "Loss (cross-entropy) per epoch, seed 0" in page.text
    assert 'class="chart-pair"' in page.text
    assert 'hx-trigger="every' not in page.text, "nothing left to wait for"
    last = facts["references"]["solution-last-step"]
    assert f"{last['val_mean'] * 100:.1f}%" in page.text, "the readout table"


def test_the_run_form_refuses_a_constraint_on_the_page(lab_app: TestClient) -> None:
    client = lab_app  # a browser: the cookie, and the CSRF token of its forms
    client.cookies.clear()
    page = client.get("/topics/birnn/lab?preset=solution")
    assert "15,493 parameters: 2.00x the baseline, within" in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    fields = {"csrf_token": token, "cell": "RNN", "bidirectional": "on", "hidden_size": "128",
              "num_layers": "1", "readout": "final", "input_dropout": "0", "readout_dropout": "0",
              "layer_dropout": "0", "epochs": "20", "lr": "0.001", "batch_size": "8",
              "patience": "0", "seed": "0", "task": "on"}  # fmt: skip
    refused = client.post("/topics/birnn/lab", data=fields)
    assert refused.status_code == 422
    assert "model size: 47,365 parameters" in refused.text
    started = client.post("/topics/birnn/lab", data={**fields, "hidden_size": "64"})
    assert started.status_code == 200 and "/lab/runs/" in str(started.url)
    assert "Lab run" in started.text


OWN_MODEL = """
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(50, 24, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(48, 5)

    def forward(self, words):
        _, h_n = self.gru(self.drop(words))
        return self.out(torch.cat([h_n[-2], h_n[-1]], dim=1))
"""


def test_your_own_model_trains_in_the_sandbox(lab_app: TestClient) -> None:
    client = learner(lab_app)
    started = client.post("/api/v1/lab/runs", json={"code": OWN_MODEL, "config": {"seed": 2}})
    assert started.status_code == 202, started.text
    seen = [data for kind, data in events(client, started.json()["id"]) if kind == "run"]
    final = seen[-1]
    assert final["status"] == "done", final["message"]
    assert len(final["epochs"]) == 20 and final["code"] == OWN_MODEL
    assert len(seen) >= 10, "its epochs stream in while it trains in the sandbox"
    namespace: dict[str, Any] = {}
    exec(OWN_MODEL, namespace)
    counted = sum(p.numel() for p in namespace["Model"]().parameters())
    assert final["parameters"] == counted
    assert final["verdict"][2]["detail"].startswith(f"{counted:,} parameters")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import torch\n", "NameError: define a class named Model"),
        (
            "from torch import nn\nclass Model(nn.Module):\n    pass\n",
            "ValueError: Model() has no trainable parameters",
        ),
        (
            "from torch import nn\nclass Model(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.w = nn.Linear(50, 5)\n\n"
            "    def forward(self, x):\n        raise ValueError('no model here')\n",
            "ValueError: no model here (line 8)",
        ),
        (
            "open('/work/main/instance/secret_key').read()\n",
            "FileNotFoundError",
        ),
    ],
)
def test_your_own_models_errors_are_reported(lab_app: TestClient, code: str, message: str) -> None:
    client = learner(lab_app)
    run_id = client.post("/api/v1/lab/runs", json={"code": code}).json()["id"]
    final = events(client, run_id)[-2][1]
    assert final["status"] == "failed" and message in final["message"], final["message"]


def test_a_full_queue_answers_429_and_stores_nothing(lab_app: TestClient) -> None:
    learners = [learner(lab_app) for _ in range(12)]
    long = {**BIG, "epochs": 40}
    answers = [start(one, {**long, "seed": 100 + i}, task=False) for i, one in enumerate(learners)]
    try:
        codes = [a.status_code for a in answers]
        assert 202 in codes and 429 in codes, codes
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json()["code"] == "rate_limited" and refused.headers["retry-after"]
        who = learners[codes.index(429)]
        assert who.get("/api/v1/lab/runs").json()["total"] == 0, "a refused run leaves no trace"
    finally:
        for one, answer in zip(learners, answers, strict=True):
            if answer.status_code == 202:
                one.post(f"/api/v1/lab/runs/{answer.json()['id']}/cancel")


# --- your own model: accepted by the runner before it is stored, cancelled at once ---

SLEEPER = "import time\n\ntime.sleep(50)\n"  # a model that never gets built: it holds its place


def lab_code_lane(runner_url: str) -> dict[str, int]:
    transport = httpx.HTTPTransport(uds=runner_url.removeprefix("unix://"))
    with httpx.Client(transport=transport, base_url="http://runner") as runner:
        return runner.get("/healthz").json()["lanes"]["lab_code"]  # type: ignore[no-any-return]


def until_status(client: Learner, run_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (run := client.get(f"/api/v1/lab/runs/{run_id}").json())["status"] != status:
        assert time.monotonic() < deadline, f"the run stayed {run['status']}"
        time.sleep(0.05)
    return run  # type: ignore[no-any-return]


def test_an_own_model_waiting_for_its_turn_is_queued_and_cancelled_at_once(
    lab_app: TestClient, runner_url: str
) -> None:
    first, second = learner(lab_app), learner(lab_app)
    sleeping = first.post("/api/v1/lab/runs", json={"code": SLEEPER, "config": {"seed": 31}})
    assert sleeping.status_code == 202, sleeping.text
    until_status(first, sleeping.json()["id"], "running")  # the lane's one place is taken
    waiting = second.post("/api/v1/lab/runs", json={"code": SLEEPER, "config": {"seed": 32}})
    assert waiting.status_code == 202 and waiting.json()["status"] == "queued", waiting.text
    assert lab_code_lane(runner_url)["queued"] == 1, "accepted: it holds its place at the runner"

    asked = time.monotonic()
    cancelled = second.post(f"/api/v1/lab/runs/{waiting.json()['id']}/cancel")
    took = time.monotonic() - asked
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert took < 1, f"the cancel answered after {took:.2f} s"
    assert lab_code_lane(runner_url)["queued"] == 0, "its place in the queue is free"

    stopped = first.post(f"/api/v1/lab/runs/{sleeping.json()['id']}/cancel").json()
    assert stopped["status"] == "cancelled"


def test_an_own_model_that_cannot_be_stored_after_the_runner_took_it_is_cancelled_there(
    lab_app: TestClient, runner_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two starts by one learner in two processes both find the learner idle: the runner takes
    both, the database's index of active runs stores one. The other is refused as a learner's
    second run is, and the runner no longer holds it."""
    client = learner(lab_app)
    going = client.post("/api/v1/lab/runs", json={"code": SLEEPER, "config": {"seed": 33}})
    assert going.status_code == 202, going.text
    until_status(client, going.json()["id"], "running")
    real, checks = service.active_run, itertools.count()

    def active_run(db: Session, learner_id: int) -> Any:
        """The first check is the other process's, made before this run was stored."""
        return None if next(checks) == 0 else real(db, learner_id)

    monkeypatch.setattr(service, "active_run", active_run)

    second = client.post("/api/v1/lab/runs", json={"code": SLEEPER, "config": {"seed": 34}})
    assert second.status_code == 429 and second.json()["code"] == "run_in_progress", second.text
    assert client.get("/api/v1/lab/runs").json()["total"] == 1
    deadline = time.monotonic() + 5
    while (lane := lab_code_lane(runner_url))["queued"]:
        assert time.monotonic() < deadline, f"the runner still holds the run: {lane}"
        time.sleep(0.05)
    client.post(f"/api/v1/lab/runs/{going.json()['id']}/cancel")


# --- your own model: judged once built, its output kept, its code kept, refusals in place ---

BIG_MODEL = """
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(50, 128, num_layers=2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(256, 5)

    def forward(self, words):
        return self.out(self.rnn(words)[0][:, -1])
"""


def parameters_of(code: str) -> int:
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return sum(p.numel() for p in namespace["Model"]().parameters())


def test_an_own_model_over_the_size_limit_is_refused_once_built_before_training(
    lab_app: TestClient,
) -> None:
    client, count = learner(lab_app), parameters_of(BIG_MODEL)
    assert count > 18 * TASK.max_parameters() / 2.5, "18 times the baseline, as in the issue"
    asked = time.monotonic()
    started = client.post("/api/v1/lab/runs", json={"code": BIG_MODEL, "config": {"seed": 51}})
    assert started.status_code == 202, started.text
    final = events(client, started.json()["id"])[-2][1]
    took = time.monotonic() - asked
    assert final["status"] == "refused" and final["epochs"] == [], final
    assert f"{count:,} parameters is more than 2.5 times" in final["message"]
    assert f"at most {TASK.max_parameters():,}" in final["message"]
    assert final["parameters"] == count
    assert took < 10, f"refused after {took:.1f} s: it trained first"
    page = client.get(f"/lab/runs/{final['id']}")
    assert "Not trained: this run breaks the task&#39;s constraint on model size" in page.text


def test_an_own_model_over_the_size_limit_trains_as_exploration(lab_app: TestClient) -> None:
    client = learner(lab_app)
    body = {"code": BIG_MODEL, "config": {"seed": 52, "epochs": 1}, "task": False}
    final = events(client, client.post("/api/v1/lab/runs", json=body).json()["id"])[-2][1]
    assert final["status"] == "done" and len(final["epochs"]) == 1, final


PRINTING_MODEL = OWN_MODEL.replace(
    "        super().__init__()\n",
    "        super().__init__()\n        print('building the model', end=' ')\n"
    "        print('with a GRU of 24')\n",
)


def test_what_your_model_prints_is_shown_with_its_run(lab_app: TestClient) -> None:
    client = learner(lab_app)
    body = {"code": PRINTING_MODEL, "config": {"seed": 53, "epochs": 2}, "task": False}
    final = events(client, client.post("/api/v1/lab/runs", json=body).json()["id"])[-2][1]
    assert final["status"] == "done" and len(final["epochs"]) == 2, final
    assert final["output"] == "building the model with a GRU of 24", "built once"
    assert final["output_truncated"] is False
    page = client.get(f"/lab/runs/{final['id']}")
    assert "What your model printed" in page.text and "building the model with" in page.text


def test_what_a_failing_model_printed_is_kept(lab_app: TestClient) -> None:
    client = learner(lab_app)
    code = "print('about to forget the class')\nimport torch\n"
    final = events(client, client.post("/api/v1/lab/runs", json={"code": code}).json()["id"])[-2][1]
    assert final["status"] == "failed" and final["output"] == "about to forget the class"


def test_the_pages_solution_trains_as_it_is_shown_with_the_presets_numbers(
    lab_app: TestClient,
) -> None:
    client = learner(lab_app)
    config = {"seed": 54, "epochs": 2}
    body = {"code": SOLUTION_CODE, "config": config, "task": False}
    pasted = events(client, client.post("/api/v1/lab/runs", json=body).json()["id"])[-2][1]
    assert pasted["status"] == "done", pasted["message"]
    preset = SOLUTION.model_copy(update=config).model_dump(mode="json")
    trained = events(client, start(client, preset, task=False).json()["id"])[-2][1]
    assert pasted["parameters"] == trained["parameters"] == 15_493
    timeless = [{k: v for k, v in e.items() if k != "seconds"} for e in trained["epochs"]]
    assert [{k: v for k, v in e.items() if k != "seconds"} for e in pasted["epochs"]] == timeless


@pytest.mark.parametrize("code", ["", "  \n\t\n"])
def test_empty_code_gets_a_plain_message(lab_app: TestClient, code: str) -> None:
    client = learner(lab_app)
    refused = client.post("/api/v1/lab/runs", json={"code": code})
    assert refused.status_code == 422 and refused.json()["field"] == "code"
    assert "write a model class named Model" in refused.json()["message"]
    assert "pydantic" not in refused.text and "http" not in refused.text
    assert client.get("/api/v1/lab/runs").json()["total"] == 0


def page_token(client: TestClient) -> str:
    client.cookies.clear()  # a new learner, known by the cookie this page sets
    page = client.get("/topics/birnn/lab")
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


def test_empty_code_on_the_page_is_refused_in_words_next_to_the_button(
    lab_app: TestClient,
) -> None:
    token = page_token(lab_app)
    page = lab_app.post("/topics/birnn/lab/code", data={"csrf_token": token, "code": " "})
    assert page.status_code == 422
    problems = page.text.split('id="code-form-problems"')[1].split("</div>")[0]
    assert 'role="alert"' in problems and "autofocus" in problems
    assert "write a model class named Model" in problems and "pydantic" not in page.text
    button = page.text.index(">Train my model</button>")
    assert page.text.index('id="code-form-problems"') < button, "just above its button"
    assert 'action="/topics/birnn/lab/code#code-form-problems"' in page.text
    unchecked = '<input id="code_task" name="code_task" type="checkbox" value="on">'
    assert unchecked in page.text, "the form comes back as it was sent"


def test_a_refused_own_model_stays_in_the_editor_with_a_link_to_the_run_in_progress(
    lab_app: TestClient,
) -> None:
    token = page_token(lab_app)
    sleeping = lab_app.post(
        "/topics/birnn/lab/code", data={"csrf_token": token, "code": SLEEPER, "code_seed": "61"}
    )
    going = str(sleeping.url).rsplit("/", 1)[1]
    mine = "import torch\n\n# my own work, not the starter\n" + OWN_MODEL
    try:
        refused = lab_app.post(
            "/topics/birnn/lab/code", data={"csrf_token": token, "code": mine, "code_seed": "62"}
        )
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert "# my own work, not the starter" in refused.text, "the editor keeps the code"
        assert f'href="/lab/runs/{going}">follow it, or cancel it</a>' in refused.text
        assert f"({going})" not in refused.text, "linked, not named by its raw id"
    finally:
        lab_app.post(f"/lab/runs/{going}/cancel", data={"csrf_token": token})


def test_a_failed_own_models_code_is_back_in_the_editor(lab_app: TestClient) -> None:
    token = page_token(lab_app)
    broken = "import torch\n\n# forgot the class\n"
    ran = lab_app.post("/topics/birnn/lab/code", data={"csrf_token": token, "code": broken})
    run_id = str(ran.url).rsplit("/", 1)[1]
    deadline = time.monotonic() + 30
    while (run := lab_app.get(f"/api/v1/lab/runs/{run_id}").json())["status"] != "failed":
        assert time.monotonic() < deadline, run["status"]
        time.sleep(0.1)
    assert 'href="/topics/birnn/lab#your-code"' in lab_app.get(f"/lab/runs/{run_id}").text
    editor = lab_app.get("/topics/birnn/lab").text.split('id="code"')[1].split("</textarea>")[0]
    assert "# forgot the class" in editor


def test_htmx_starts_go_to_the_run_and_refusals_come_back_in_place(lab_app: TestClient) -> None:
    token = page_token(lab_app)
    htmx = {"HX-Request": "true"}
    fields = {"csrf_token": token, "cell": "RNN", "hidden_size": "64", "num_layers": "1",
              "readout": "last", "input_dropout": "0", "readout_dropout": "0",
              "layer_dropout": "0", "epochs": "30", "lr": "0.001", "batch_size": "8",
              "patience": "0", "seed": "63", "task": "on"}  # fmt: skip
    refused = lab_app.post("/topics/birnn/lab", data=fields, headers=htmx)
    assert refused.status_code == 422 and 'id="run-form-box"' in refused.text
    problems = refused.text.split('id="run-form-problems"')[1].split("</div>")[0]
    assert "training procedure: keep the baseline&#39;s epochs 20" in problems
    assert refused.text.index('id="run-form-problems"') < refused.text.index(">Train</button>")
    started = lab_app.post(
        "/topics/birnn/lab", data={**fields, "epochs": "20"}, headers=htmx, follow_redirects=False
    )
    assert started.status_code == 200 and started.headers["hx-redirect"].startswith(
        "http://testserver/lab/runs/"
    )


def test_the_page_asks_for_the_reference_runs_until_all_are_measured(
    lab_app: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While some are missing (being measured at start-up) the status line asks again every few
    seconds for the parts that show them; without JavaScript it says to reload."""
    real = service.reference_figures
    monkeypatch.setattr(Lab, "measure_references", lambda self: None)
    monkeypatch.setattr(
        service, "reference_figures", lambda db, torch: {"baseline": real(db, torch)["baseline"]}
    )
    waiting = lab_app.get("/topics/birnn/lab").text
    status = waiting.split('id="references-progress"')[1].split("</p>")[0]
    assert 'hx-trigger="every 3s"' in status and "(1 of 5 models done)" in status
    assert 'hx-select-oob="#current-metrics,#before-after,#readout-choice,#bonus-figures"' in status
    assert "<noscript> Reload the page in a minute to see them.</noscript>" in status
    for part in ("current-metrics", "before-after", "readout-choice", "bonus-figures"):
        assert f'id="{part}"' in waiting
    monkeypatch.setattr(service, "reference_figures", real)
    done = lab_app.get("/topics/birnn/lab").text
    assert "hx-trigger" not in done.split('id="references-progress"')[1].split("</p>")[0]
