"""The reference runs shipped with the app (app/lab/references.json): the very numbers a fresh
run gives with this torch, stored at start-up so that no visitor waits for them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import torch
from sqlalchemy.orm import Session

from app.lab import references, service
from app.lab.config import REFERENCES
from app.training.config import LabConfig
from app.training.dataset import make_data
from app.training.design import VAL_SIZE
from app.training.loop import train


@pytest.fixture
def one_thread() -> Iterator[None]:
    """As the runner's lab workers train (and as the file was measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def shipped_runs() -> dict[str, dict[str, Any]]:
    return {LabConfig.model_validate(r["config"]).key(""): r for r in references.shipped()["runs"]}


def test_the_shipped_runs_are_every_reference_run_measured_with_this_torch() -> None:
    shipped = references.shipped()
    assert shipped["torch"] == torch.__version__, (
        "measured with another torch: run `python -m app.lab.references` to measure them again"
    )
    wanted = {config.key("") for _, config in service.reference_configs()}
    assert set(shipped_runs()) == wanted


ONE_EXAMPLE = 1 / VAL_SIZE + 1e-9  # an accuracy's step: one validation example


@pytest.mark.parametrize(("preset", "seed"), [("baseline", 0), ("solution", 1)])
def test_a_fresh_run_gives_the_shipped_numbers(one_thread: None, preset: str, seed: int) -> None:
    config = REFERENCES[preset].model_copy(update={"seed": seed})
    stored = shipped_runs()[config.key("")]
    fresh = asdict(train(config, make_data()))
    epochs = fresh.pop("epochs")
    # Equal as far as float32 reaches across CPUs: another machine's kernels (AVX2, AVX-512)
    # sum in another order, which moves a loss's 7th digit, and twenty epochs carry that on to
    # the 5th. What the lab shows (losses to 3 decimals, accuracies in whole percent) is equal.
    timeless = [{k: v for k, v in e.items() if k != "seconds"} for e in stored["epochs"]]
    fresh_epochs = [{k: v for k, v in e.items() if k != "seconds"} for e in epochs]
    assert len(fresh_epochs) == len(timeless)
    for got, shipped in [*zip(fresh_epochs, timeless, strict=True), (fresh, stored["outcome"])]:
        assert set(got) == set(shipped)
        for key, value in shipped.items():
            if isinstance(value, float):
                tolerance = {"abs": ONE_EXAMPLE} if "accuracy" in key else {"rel": 1e-4}
                assert got[key] == pytest.approx(value, **tolerance), key
            else:
                assert got[key] == value, key


def test_the_shipped_runs_are_stored_once_and_give_every_reference_figure(
    db: Session, tmp_path: Path
) -> None:
    version = "shipped-test"  # a torch no stored run has: only what this test stores counts
    data = {"torch": version, "runs": references.shipped()["runs"]}
    path = tmp_path / "references.json"
    path.write_text(json.dumps(data))
    assert references.store_shipped(db, version, path) == len(data["runs"])
    assert references.store_shipped(db, version, path) == 0, "already stored"
    figures = service.reference_figures(db, version)
    assert set(figures) == set(REFERENCES)
    unseeded = REFERENCES["baseline"].model_dump(exclude={"seed"})
    baseline = [
        r["outcome"] for r in data["runs"] if r["config"] | {"seed": 0} == unseeded | {"seed": 0}
    ]
    assert len(baseline) == len(figures["baseline"].seeds)
    assert figures["baseline"].val_min == min(o["val_accuracy"] for o in baseline)


def test_runs_measured_with_another_torch_are_not_stored(db: Session) -> None:
    assert references.store_shipped(db, "another-torch") == 0
    assert service.reference_figures(db, "another-torch") == {}
