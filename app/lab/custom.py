"""A learner's own model in the lab: their code, then a harness that trains `Model()` on the
lab's data with the run's procedure, all in the sandbox (run kind `lab_code`). The harness
reports each epoch and the outcome as marked lines on stdout, streamed back while it trains
and read here into the same events a lab job sends. (The learner's code runs in that process
and could print such lines itself: it would only fool its own run's record.)"""

from __future__ import annotations

import json
from typing import Any

from app.lab.config import TASK, broken_constraint
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
def _torchquiz_lab(config_json, max_parameters):
    import dataclasses, json, sys
    import torch
    from app.training.config import LabConfig
    from app.training.dataset import make_data
    from app.training.loop import train

    def report(kind, data):
        sys.stdout.write({mark!r} + json.dumps({{"type": kind, **data}}) + "\\n")
        sys.stdout.flush()

    if "Model" not in globals():
        raise NameError("define a class named Model (an nn.Module built with no arguments)")
    # Built once, under the run's seed, and counted before any training: a model over the
    # task's size is refused at once. train() seeds again and asks for the model: it gets this
    # one and the random state its building left, as if built there.
    config = LabConfig.model_validate_json(config_json)
    torch.manual_seed(config.seed)
    model = Model()
    built = torch.get_rng_state()
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if not count:
        raise ValueError("Model() has no trainable parameters")
    report("built", {{"parameters": count}})
    if max_parameters is not None and count > max_parameters:
        return

    def make_model():
        torch.set_rng_state(built)
        return model

    epoch = lambda e: report("epoch", dataclasses.asdict(e))
    outcome = dataclasses.asdict(train(config, make_data(), epoch, make_model=make_model))
    outcome.pop("epochs")
    report("done", {{"outcome": outcome}})


_torchquiz_lab({config!r}, {max_parameters!r})
"""


def program(code: str, config: LabConfig, *, task: bool) -> str:
    """The learner's code followed by the harness, as one program for the sandbox. A task run
    stops as soon as its model is built if it is over the task's size."""
    limit = TASK.max_parameters() if task else None
    harness = HARNESS.format(mark=MARK, config=config.model_dump_json(), max_parameters=limit)
    return code.rstrip() + "\n" + harness


class Reports:
    """The harness's marked lines out of the run's stdout, as it arrives in chunks."""

    def __init__(self) -> None:
        self._partial = ""

    def feed(self, chunk: str) -> list[dict[str, Any]]:
        """The complete reports in this chunk (and the one it finishes)."""
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()
        return [_report(line) for line in lines if MARK in line]


def _report(line: str) -> dict[str, Any]:
    # A report may follow what the learner printed without a newline: it starts at the mark.
    try:
        report = json.loads(line.partition(MARK)[2])
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


def printed(stdout: str) -> str:
    """What the learner's code printed: the run's stdout without the harness's reports."""
    kept = []
    for line in stdout.split("\n"):
        said, mark, _ = line.partition(MARK)
        if said or not mark:  # a report's line is left out, what was printed before it kept
            kept.append(said)
    return "\n".join(kept).strip("\n")


def epochs_in(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in reports if r.get("type") == "epoch"]


def final_event(result: RunResult) -> dict[str, Any]:
    """How the run ended: done (with the outcome), refused (its model over the task's size),
    cancelled, stopped or failed. Every end but a cancel carries what the learner's code
    printed (bounded by the runner's output limit) and, once built, the model's size."""
    reports = Reports().feed(result.stdout + "\n")
    built = [r["parameters"] for r in reports if r.get("type") == "built"]
    seen: dict[str, Any] = {"output": printed(result.stdout)}
    seen |= {"output_truncated": True} if result.stdout_truncated else {}
    seen |= {"parameters": built[-1]} if built else {}
    event = _end(result, reports, built[-1] if built else None)
    if event["type"] != "cancelled":
        event["outcome"] = seen | event.get("outcome", {})
    return event


def _end(result: RunResult, reports: list[dict[str, Any]], built: int | None) -> dict[str, Any]:
    if result.limit is not None and result.limit.name == "cancelled":
        return {"type": "cancelled"}
    if result.limit is not None:
        return {"type": "stopped", "limit": result.limit.message}
    if result.exception is not None:
        exc = result.exception
        where = f" (line {exc.line})" if exc.line else ""
        return {"type": "failed", "message": f"{exc.type}: {exc.message}{where}"[:2000]}
    done = [r for r in reports if r.get("type") == "done"]
    if done:
        return done[-1]
    if built is not None and (why := TASK.size_refusal(built)):
        return {"type": "refused", "message": broken_constraint(why)}
    return {"type": "failed", "message": "the run ended without a result"}
