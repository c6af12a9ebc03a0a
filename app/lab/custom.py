"""A learner's own model in the lab: their code, then a harness that trains `Model()` on the
lab's data with the run's procedure, all in the sandbox (run kind `lab_code`). The harness
reports each epoch and the outcome as marked lines on stdout, streamed back while it trains
and read here into the same events a lab job sends. (The learner's code runs in that process
and could print such lines itself: it would only fool its own run's record.)"""

from __future__ import annotations

import json
from typing import Any

from app.runner.protocol import RunResult
from app.training.config import LabConfig

MARK = "@@torchquiz-lab@@ "
STARTER = '''\
import torch
from torch import nn


class Model(nn.Module):
    """Reads words shaped (batch, sentence length, 50); returns (batch, 5) class scores."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(50, 64, batch_first=True)
        self.classify = nn.Linear(64, 5)

    def forward(self, words):
        out, h_n = self.rnn(words)
        return self.classify(out[:, -1])
'''

HARNESS = """

# --- the lab's harness: train Model() on the lab's data with the run's procedure ---
def _torchquiz_lab(config_json):
    import dataclasses, json, sys
    from app.training.config import LabConfig
    from app.training.dataset import make_data
    from app.training.loop import train

    def report(kind, data):
        sys.stdout.write({mark!r} + json.dumps({{"type": kind, **data}}) + "\\n")
        sys.stdout.flush()

    if "Model" not in globals():
        raise NameError("define a class named Model (an nn.Module built with no arguments)")
    if not any(p.requires_grad for p in Model().parameters()):
        raise ValueError("Model() has no trainable parameters")
    config = LabConfig.model_validate_json(config_json)
    epoch = lambda e: report("epoch", dataclasses.asdict(e))
    outcome = dataclasses.asdict(train(config, make_data(), epoch, make_model=Model))
    outcome.pop("epochs")
    report("done", {{"outcome": outcome}})


_torchquiz_lab({config!r})
"""


def program(code: str, config: LabConfig) -> str:
    """The learner's code followed by the harness, as one program for the sandbox."""
    return code.rstrip() + "\n" + HARNESS.format(mark=MARK, config=config.model_dump_json())


class Reports:
    """The harness's marked lines out of the run's stdout, as it arrives in chunks."""

    def __init__(self) -> None:
        self._partial = ""

    def feed(self, chunk: str) -> list[dict[str, Any]]:
        """The complete reports in this chunk (and the one it finishes)."""
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()
        return [_report(line) for line in lines if line.startswith(MARK)]


def _report(line: str) -> dict[str, Any]:
    try:
        report = json.loads(line.removeprefix(MARK))
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


def epochs_in(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in reports if r.get("type") == "epoch"]


def final_event(result: RunResult) -> dict[str, Any]:
    """How the run ended: done (with the outcome), cancelled, stopped or failed."""
    if result.limit is not None and result.limit.name == "cancelled":
        return {"type": "cancelled"}
    if result.limit is not None:
        return {"type": "stopped", "limit": result.limit.message}
    if result.exception is not None:
        exc = result.exception
        where = f" (line {exc.line})" if exc.line else ""
        return {"type": "failed", "message": f"{exc.type}: {exc.message}{where}"[:2000]}
    done = [r for r in Reports().feed(result.stdout + "\n") if r.get("type") == "done"]
    return done[-1] if done else {"type": "failed", "message": "the run ended without a result"}
