"""The lab's model and training loop: sizes by formula, reproducible runs, and the story itself.

The story runs on the lab's fixed data draw (DATA_SEED) with init seed 0, as the page shows it.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from app.lab.config import BASELINE, SOLUTION, TASK
from app.training.config import GATES, NUM_CLASSES, READOUTS, LabConfig, parameter_count
from app.training.dataset import LabData, make_data
from app.training.design import OVERFIT_MAX_VAL_ACCURACY, OVERFIT_MIN_TRAIN_ACCURACY, SEQ_LEN
from app.training.loop import Epoch, Outcome, build_model, train


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)  # as the lab's workers run


@pytest.fixture(scope="module")
def data() -> LabData:
    return make_data()


@pytest.fixture(scope="module")
def baseline(data: LabData) -> Outcome:
    return train(BASELINE.model_copy(update={"seed": 0}), data)


@pytest.fixture(scope="module")
def solution(data: LabData) -> Outcome:
    return train(SOLUTION.model_copy(update={"seed": 0}), data)


GRID = [
    LabConfig(
        cell=cell,
        bidirectional=bidirectional,
        num_layers=layers,
        hidden_size=hidden,
        readout=readout,  # type: ignore[arg-type]
    )
    for cell, bidirectional, layers, hidden, readout in itertools.product(
        GATES, (False, True), (1, 2, 3), (3, 16), READOUTS
    )
]


def _grid_id(c: LabConfig) -> str:
    return (
        f"{c.cell}-{'bi' if c.bidirectional else 'uni'}-{c.num_layers}-{c.hidden_size}-{c.readout}"
    )


@pytest.mark.parametrize("config", GRID, ids=_grid_id)
def test_parameter_count_matches_torch_and_the_model_runs(config: LabConfig) -> None:
    model = build_model(config)
    assert parameter_count(config) == sum(p.numel() for p in model.parameters())
    logits = model(torch.zeros(4, SEQ_LEN, 50))
    assert logits.shape == (4, NUM_CLASSES)


def test_final_readout_is_both_directions_final_states() -> None:
    torch.manual_seed(0)
    config = LabConfig(bidirectional=True, readout="final", hidden_size=8, num_layers=2)
    model = build_model(config).eval()
    x = torch.randn(3, SEQ_LEN, 50)
    out, _ = model.rnn(x)  # type: ignore[operator]
    # Forward's final state is its output at the last step; backward's, at the first step.
    readout = torch.cat([out[:, -1, :8], out[:, 0, 8:]], dim=1)
    assert torch.allclose(model(x), model.head(readout))  # type: ignore[operator]


def _metrics(outcome: Outcome) -> list[dict[str, float]]:
    return [
        {k: v for k, v in dataclasses.asdict(e).items() if k != "seconds"} for e in outcome.epochs
    ]


def test_same_config_and_data_give_identical_metrics(data: LabData) -> None:
    config = SOLUTION.model_copy(update={"epochs": 3, "seed": 1})
    heard: list[Epoch] = []
    first = train(config, data, heard.append)
    second = train(config, data)
    assert _metrics(first) == _metrics(second)
    assert heard == first.epochs  # every epoch reported live, in order
    other = train(config.model_copy(update={"seed": 2}), data)
    assert _metrics(other) != _metrics(first)


def test_without_early_stopping_every_epoch_runs_and_the_last_is_kept(baseline: Outcome) -> None:
    assert [e.epoch for e in baseline.epochs] == list(range(1, BASELINE.epochs + 1))
    assert baseline.best_epoch == BASELINE.epochs
    assert not baseline.stopped_early
    assert baseline.train_accuracy == baseline.epochs[-1].train_accuracy
    assert baseline.val_accuracy == baseline.epochs[-1].val_accuracy
    assert baseline.parameters == parameter_count(BASELINE)


def test_the_baseline_overfits(baseline: Outcome) -> None:
    assert baseline.train_accuracy >= OVERFIT_MIN_TRAIN_ACCURACY
    assert baseline.val_accuracy <= OVERFIT_MAX_VAL_ACCURACY


def test_the_solution_meets_the_task(solution: Outcome) -> None:
    assert solution.val_accuracy >= TASK.min_val_accuracy
    assert solution.train_accuracy < TASK.max_train_accuracy
    assert TASK.refusal(SOLUTION) is None


def test_running_accuracy_is_not_train_accuracy_under_dropout(solution: Outcome) -> None:
    # Dropout is on while the batches run: the running figure understates the model.
    last = solution.epochs[-1]
    assert last.running_accuracy < last.train_accuracy


def test_both_directions_read_at_the_last_step_miss_the_task(data: LabData) -> None:
    # out[:, -1]'s backward half has read one word: the keyword at the start is lost.
    config = SOLUTION.model_copy(update={"readout": "last", "seed": 0})
    assert train(config, data).val_accuracy < TASK.min_val_accuracy


def test_early_stopping_keeps_the_best_epochs_weights(data: LabData) -> None:
    config = SOLUTION.model_copy(update={"patience": 2, "seed": 0})
    outcome = train(config, data)
    assert outcome.stopped_early
    assert len(outcome.epochs) < config.epochs
    best = outcome.epochs[outcome.best_epoch - 1]
    assert best.val_accuracy == max(e.val_accuracy for e in outcome.epochs)
    assert outcome.best_epoch == len(outcome.epochs) - config.patience
    # Measured again on the restored weights, so equal only if they are the best epoch's.
    assert outcome.val_accuracy == best.val_accuracy
    assert outcome.train_accuracy == best.train_accuracy
