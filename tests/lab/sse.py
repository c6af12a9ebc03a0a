"""A server-sent events client for the lab's live events, as a browser's EventSource reads
them (fields, ids, retry), and the ledger that checks "every epoch exactly once" across
reconnections."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.testclient import TestClient

# A learner's own model that trains at a steady pace whatever the machine's load: its forward
# pass sleeps, and a batch of 400 makes an epoch one training batch and two evaluations.
SLOW_MODEL = """
import time
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(50, 5)

    def forward(self, words):
        time.sleep(0.1)
        return self.out(words.mean(dim=1))
"""


def slow_run(epochs: int, seed: int) -> dict[str, Any]:
    """A start's body: the slow model for `epochs` epochs, not judged."""
    config = {"epochs": epochs, "batch_size": 400, "seed": seed}
    return {"code": SLOW_MODEL, "config": config, "task": False}


class Learner:
    """One learner of a shared TestClient, known by a bearer token instead of a cookie."""

    def __init__(self, client: TestClient) -> None:
        client.cookies.clear()
        token = client.get("/api/v1/me").json()["token"]
        client.cookies.clear()
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, url: str) -> Any:
        return self.client.get(url, headers=self.headers)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.client.post(url, headers=self.headers, **kwargs)

    def start(self, body: dict[str, Any]) -> str:
        """A run started (202), its id."""
        started = self.post("/api/v1/lab/runs", json=body)
        assert started.status_code == 202, started.text
        return str(started.json()["id"])

    def stream(self, url: str, last_event_id: str | None = None) -> Any:
        headers = self.headers | ({"Last-Event-ID": last_event_id} if last_event_id else {})
        return self.client.stream("GET", url, headers=headers)


@dataclass
class Message:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def messages(lines: Iterable[str]) -> Iterator[Message]:
    """The stream's messages as the SSE format defines them (comments skipped)."""
    current, fields = Message(), False
    for line in lines:
        if line == "":
            if fields:
                yield current
            current, fields = Message(), False
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value, fields = value.removeprefix(" "), True
        if name == "event":
            current.event = value
        elif name == "data":
            current.data = f"{current.data}\n{value}" if current.data else value
        elif name == "id":
            current.id = value
        elif name == "retry":
            current.retry = int(value)
    if fields:
        yield current


@dataclass
class Ledger:
    """What a client knows of a run across its connections: the epochs (those of the first
    `run` it ever got, then one per `epoch` event), its Last-Event-ID, and whether it ended."""

    epochs: list[int] = field(default_factory=list)
    last_id: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False
    retry: int | None = None

    def take(self, message: Message) -> None:
        if message.id is not None:
            assert change(message.id) >= change(self.last_id), (message.id, self.last_id)
            self.last_id = message.id
        if message.retry is not None:
            self.retry = message.retry
        if message.event == "run":
            run = message.json()
            if not self.runs:
                self.epochs = [e["epoch"] for e in run["epochs"]]
            self.runs.append(run)
        elif message.event == "epoch":
            self.epochs.append(message.json()["epoch"])
        elif message.event == "end":
            self.ended = True

    def check(self) -> dict[str, Any]:
        """Every epoch exactly once, in order, agreeing with the last run seen; that run."""
        final = self.runs[-1]
        assert self.epochs == list(range(1, len(final["epochs"]) + 1)), self.epochs
        assert [e["epoch"] for e in final["epochs"]] == self.epochs
        return final


def change(event_id: str | None) -> int:
    return -1 if event_id is None else int(event_id.split("-")[0])
