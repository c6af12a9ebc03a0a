"""A learner's own model in the lab: their code, then a harness that trains `Model()` on the
lab's data with the run's procedure, all in the sandbox (run kind `lab_code`). The harness
reports each epoch and the outcome as marked lines on stdout, read back here into the same
events a lab job sends. (The learner's code runs in that process and could print such lines
itself: it would only fool its own run's record.)"""

from __future__ import annotations

import json
from typing import Any

from app.lab.config import LabConfig
from app.runner.protocol import RunResult

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
    from app.lab.config import LabConfig
    from app.lab.dataset import make_data
    from app.lab.training import train

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


def events_of(result: RunResult) -> list[dict[str, Any]]:
    """The run's lab events: started, each epoch, then done, failed or stopped."""
    events: list[dict[str, Any]] = [{"type": "started"}]
    reported = [
        json.loads(line.removeprefix(MARK))
        for line in result.stdout.splitlines()
        if line.startswith(MARK)
    ]
    events += [e for e in reported if e.get("type") == "epoch"]
    done = [e for e in reported if e.get("type") == "done"]
    if result.limit is not None and result.limit.name == "cancelled":
        events.append({"type": "cancelled"})
    elif result.limit is not None:
        events.append({"type": "stopped", "limit": result.limit.message})
    elif result.exception is not None:
        exc = result.exception
        where = f" (line {exc.line})" if exc.line else ""
        events.append({"type": "failed", "message": f"{exc.type}: {exc.message}{where}"[:2000]})
    elif done:
        events.append(done[-1])
    else:
        events.append({"type": "failed", "message": "the run ended without a result"})
    return events
