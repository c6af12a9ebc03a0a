"""The lab's run form: its fields as text in, a checked run request or named problems out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from app.core.forms import field_problems
from app.lab.config import BASELINE, PRESETS
from app.lab.schemas import StartLabRun
from app.training.config import LabConfig

LABELS = {
    "cell": "Cell",
    "hidden_size": "Hidden size (per direction)",
    "num_layers": "Layers",
    "input_dropout": "Dropout on the word vectors",
    "layer_dropout": "Dropout between layers",
    "readout_dropout": "Dropout on the readout",
    "readout": "Readout",
    "epochs": "Epochs",
    "lr": "Learning rate",
    "batch_size": "Batch size",
    "patience": "Early-stopping patience (epochs, 0 = off)",
    "seed": "Seed (initial weights and dropout)",
    "bidirectional": "Bidirectional",
    "task": "Judge against the task",
    "code": "Your model (Python)",
    "code_seed": "Seed",
    "code_task": "Judge against the task",
}
FLAGS = ("bidirectional", "task")
FIELDS = tuple(name for name in LABELS if name not in FLAGS and not name.startswith("code"))

Parsed = tuple[StartLabRun | None, dict[str, str], dict[str, str]]


def values_of(start: StartLabRun) -> dict[str, str]:
    values = {name: str(value) for name, value in start.config.model_dump().items()}
    values["bidirectional"] = str(start.config.bidirectional)
    values["task"] = str(start.task)
    return values


def preset(name: str | None) -> StartLabRun:
    """A preset as a run request; the bonus breaks the size limit, so it runs as exploration."""
    config = PRESETS.get(name or "", PRESETS["baseline"])
    return StartLabRun(config=config, task=name != "bonus")


def parse(fields: Mapping[str, str]) -> Parsed:
    """(request or None, the form's values, problems by field). Without the form's fields:
    the preset named by `preset` (the baseline by default)."""
    if "cell" not in fields:
        start = preset(fields.get("preset"))
        return start, values_of(start), {}
    values = {name: fields.get(name, "").strip() for name in FIELDS}
    values |= {flag: "True" if fields.get(flag) else "False" for flag in FLAGS}
    config: dict[str, Any] = {name: values[name] for name in FIELDS if values[name]}
    config["bidirectional"] = values["bidirectional"] == "True"
    try:
        start = StartLabRun(config=LabConfig.model_validate(config), task=values["task"] == "True")
    except ValidationError as exc:
        return None, values, field_problems(exc)
    return start, values_of(start), {}


def parse_code(fields: Mapping[str, str]) -> tuple[StartLabRun | None, dict[str, str]]:
    """Advanced mode: (request or None, its problem under "code"). The learner's code trains
    with the baseline's procedure and the form's seed, checked as the API checks them."""
    data = {
        "config": BASELINE.model_dump() | {"seed": fields.get("code_seed", "").strip() or 0},
        "code": fields.get("code", ""),
        "task": bool(fields.get("code_task")),
    }
    try:
        return StartLabRun.model_validate(data), {}
    except ValidationError as exc:
        names = {"seed": "code_seed"}  # the config's seed is the form's code_seed
        said = [
            f"{LABELS.get(names.get(f, f), f)}: {why}" for f, why in field_problems(exc).items()
        ]
        return None, {"code": "; ".join(said)}
