"""A lab run's live events in one process (the in-memory feed), on SQLite and PostgreSQL: each
message carries its `id`, a reader that reconnects with Last-Event-ID gets every epoch exactly
once, an id that is no event of the run is refused by name, and a server that starts draining
ends its streams with a retry hint."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from app.core.draining import RETRY_MILLISECONDS, Draining
from app.core.metrics import TRAINING_ACTIVE
from app.lab import service
from app.lab.feed import MemoryFeed
from app.lab.models import LabRun
from app.main import create_app
from tests.conftest import make_settings, own_database, until_ready
from tests.lab.sse import Learner, Ledger, messages, slow_run


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_app(
    request: pytest.FixtureRequest, runner_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An app of its own, without Redis: lab runs commit from background tasks."""
    folder = tmp_path_factory.mktemp("live")
    source = own_database(request.param, tmp_path_factory, "live")
    app = create_app(make_settings(next(source), folder, runner_url=runner_url))
    with TestClient(app) as client:
        until_ready(client)
        yield client
    next(source, None)  # the scratch database dropped


def events_url(run_id: str) -> str:
    return f"/api/v1/lab/runs/{run_id}/events"


def test_a_reader_that_reconnects_with_its_last_event_id_gets_every_epoch_exactly_once(
    live_app: TestClient,
) -> None:
    assert isinstance(live_app.app.state.lab.feed, MemoryFeed)  # type: ignore[attr-defined]
    learner = Learner(live_app)
    before = TRAINING_ACTIVE._value.get()
    run_id = learner.start(slow_run(epochs=6, seed=1))
    ledger, training = Ledger(), []
    with learner.stream(events_url(run_id)) as first:
        assert first.status_code == 200
        for message in messages(first.iter_lines()):
            ledger.take(message)
            training.append(TRAINING_ACTIVE._value.get())
            if len(ledger.epochs) >= 2 or ledger.ended:
                break  # the client goes away mid-run
    assert ledger.last_id is not None and not ledger.ended, "the run outlasts the first reader"
    assert ledger.runs[0]["status"] in ("queued", "running")
    with learner.stream(events_url(run_id), ledger.last_id) as second:
        assert second.status_code == 200
        for message in messages(second.iter_lines()):
            ledger.take(message)
    assert ledger.ended
    final = ledger.check()
    assert final["status"] == "done" and len(final["epochs"]) == 6, final["message"]
    assert ledger.last_id == f"{6 + 2}-0", "started, six epochs, done: eight changes"
    assert before + 1 in training, "the run counted as active training while it trained"
    assert TRAINING_ACTIVE._value.get() == before, "and no longer once it ended"


def test_a_finished_run_resumes_after_any_of_its_ids_and_refuses_an_id_it_never_sent(
    live_app: TestClient,
) -> None:
    learner = Learner(live_app)
    baseline = live_app.get("/api/v1/lab").json()["references"]["baseline"]["runs"][0]
    url = events_url(baseline)

    def read(last_event_id: str | None = None, *, page: bool = False) -> Ledger:
        ledger = Ledger()
        target = f"/lab/runs/{baseline}/live" if page else url
        with learner.stream(target, last_event_id) as stream:
            assert stream.status_code == 200
            for message in messages(stream.iter_lines()):
                ledger.take(message)
        return ledger

    fresh = read()
    epochs = len(fresh.runs[0]["epochs"])
    assert [len(fresh.runs), fresh.ended, fresh.last_id] == [1, True, f"{epochs + 2}-0"]
    # Resumed after epoch 3 (change 4): epochs 4 onwards, then the run, then the end.
    resumed = Ledger(epochs=[1, 2, 3], last_id="4-0", runs=[fresh.runs[0]])
    for message in _messages(learner, url, "4-0"):
        resumed.take(message)
    assert resumed.epochs[3] == 4 and len(resumed.runs) == 2
    assert resumed.ended and resumed.check()["status"] == "done"
    assert read(f"{epochs + 2}").runs == [], "seen to the end already: only `end` (`N` as `N-0`)"
    assert read(f"{epochs + 2}-0").ended

    # The page's stream, for clients that cannot set headers: the query parameter.
    page = learner.client.get(
        f"/lab/runs/{baseline}/live?last_event_id=2-0", headers=learner.headers
    )
    assert page.text.count("event: run") == 1 and f"id: {epochs + 2}-0" in page.text

    for wrong in ("abc", f"{epochs + 3}-0", "-1", "3-1"):
        refused = learner.client.get(url, headers=learner.headers | {"Last-Event-ID": wrong})
        assert refused.status_code == 400, wrong
        body = refused.json()
        assert body["code"] == "bad_last_event_id" and f"'{wrong}'" in body["message"], body
        assert f"0-0 to {epochs + 2}-0" in body["message"]


def _messages(learner: Learner, url: str, last_event_id: str) -> list[Any]:
    with learner.stream(url, last_event_id) as stream:
        return list(messages(stream.iter_lines()))


def test_a_server_that_starts_draining_ends_its_open_streams_with_a_retry_hint(
    live_app: TestClient,
) -> None:
    learner = Learner(live_app)
    run_id = learner.start(slow_run(epochs=30, seed=2))
    app: Any = live_app.app
    try:
        for url in (events_url(run_id), f"/lab/runs/{run_id}/live"):
            with learner.stream(url) as stream:
                lines = stream.iter_lines()
                found = messages(lines)
                first = next(found)  # the run as it stands: the stream is open
                assert first.event == "run" and first.id is not None
                asked = time.monotonic()
                live_app.portal.call(app.state.draining.start)  # type: ignore[union-attr]
                rest = list(found)
                took = time.monotonic() - asked
            assert rest and rest[-1].retry == RETRY_MILLISECONDS, rest
            assert not any(m.event == "end" for m in rest), "not ended: to be resumed elsewhere"
            assert took < 2, f"the stream closed {took:.1f} s after draining began"
            app.state.draining = Draining()
    finally:
        app.state.draining = Draining()
        learner.client.post(f"/api/v1/lab/runs/{run_id}/cancel", headers=learner.headers)


def test_a_run_that_another_server_ended_is_stopped_at_the_runner_by_its_follower(
    live_app: TestClient, runner_url: str
) -> None:
    """A follower that lost its hold for a while (a stalled process) finds the run ended by a
    neighbour: it records nothing more, and stops the run at the runner."""
    learner, lab = Learner(live_app), live_app.app.state.lab  # type: ignore[attr-defined]
    before = TRAINING_ACTIVE._value.get()
    run_id = learner.start(slow_run(epochs=30, seed=3))
    deadline = time.monotonic() + 60
    while not (run := live_app.get(f"/api/v1/lab/runs/{run_id}", headers=learner.headers).json())[
        "epochs"
    ]:
        assert time.monotonic() < deadline, f"it never trained an epoch: {run}"
        time.sleep(0.05)

    with lab.database.transaction() as db:  # what a neighbour does when the hold has lapsed
        row = db.scalar(select(LabRun).where(LabRun.public_id == run_id))
        service.apply_event(db, row.id, {"type": "failed", "message": service.HOLDER_GONE})
    deadline = time.monotonic() + 10
    while sum(lab_code_lane(runner_url).values()) or TRAINING_ACTIVE._value.get() != before:
        assert time.monotonic() < deadline, f"still at the runner: {lab_code_lane(runner_url)}"
        time.sleep(0.05)
    final = live_app.get(f"/api/v1/lab/runs/{run_id}", headers=learner.headers).json()
    assert final["status"] == "failed" and final["message"] == service.HOLDER_GONE
    assert len(final["epochs"]) < 30


def lab_code_lane(runner_url: str) -> dict[str, int]:
    """The runner's lane of learners' own models: how many run, how many wait."""
    transport = httpx.HTTPTransport(uds=runner_url.removeprefix("unix://"))
    with httpx.Client(transport=transport, base_url="http://runner") as runner:
        lane = runner.get("/healthz").json()["lanes"]["lab_code"]
    return {"running": lane["running"], "queued": lane["queued"]}
