"""The page's reference runs shipped with the app (app/lab/references.json), so that the first
visitor never waits for them: the runs are deterministic, so a file measured with the same torch
holds the very numbers a fresh run gives (tests/lab/test_references.py trains one again to
prove it). With another torch the file is ignored and the runs are measured at start-up.

    python -m app.lab.references   # measures every reference run again and writes the file
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.lab import service
from app.training.config import LabConfig

SHIPPED = Path(__file__).with_name("references.json")


def shipped(path: Path = SHIPPED) -> dict[str, Any]:
    """{"torch": version, "runs": [{"config", "epochs", "outcome"}]}; empty when not there."""
    if not path.exists():
        return {"torch": None, "runs": []}
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def store_shipped(db: Session, torch_version: str, path: Path = SHIPPED) -> int:
    """Store the shipped runs measured with this torch that are not stored yet: how many."""
    data = shipped(path)
    if data["torch"] != torch_version:
        return 0
    stored = 0
    for run in data["runs"]:
        config = LabConfig.model_validate(run["config"])
        if service.cached_run(db, config.key(torch_version)) is None:
            service.new_finished_run(db, config, torch_version, run["epochs"], run["outcome"])
            stored += 1
    return stored


def measure() -> dict[str, Any]:
    """Every reference run trained here as the runner's lab workers train (one thread)."""
    import torch

    from app.training.dataset import make_data
    from app.training.loop import train

    torch.set_num_threads(1)
    data, runs = make_data(), []
    for _, config in service.reference_configs():
        outcome = asdict(train(config, data))
        runs.append({"config": config.model_dump(mode="json"), "epochs": outcome.pop("epochs")})
        runs[-1]["outcome"] = outcome
    return {"torch": torch.__version__, "runs": runs}


if __name__ == "__main__":
    SHIPPED.write_text(json.dumps(measure(), indent=1) + "\n")
