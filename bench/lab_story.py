"""Experiment lab: is the story true as measured? Baseline, solution, bonus and readout variants.

Trains each variant for the reference init seeds on the lab's fixed data draw (DATA_SEED), one
thread, one run after another, and prints train and val accuracy (eval mode) as mean ± population
std [min-max] over the seeds, whether each seed meets its target, and wall time per run and to
the first epoch. The story: the baseline overfits (train >= 93%, val <= 80%); the solution meets
the task (val >= 85%, train < 92%) with the same data and the same training procedure.

    python bench/lab_story.py                                  # the table, on DATA_SEED
    python bench/lab_story.py --sweep-data-seeds 24 --jobs 2  # how DATA_SEED was chosen
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import torch

from app.lab.config import BASELINE, BONUS, REFERENCE_SEEDS, SOLUTION, TASK
from app.training.config import LabConfig
from app.training.dataset import LabData, make_data
from app.training.design import (
    DATA_SEED,
    OVERFIT_MAX_VAL_ACCURACY,
    OVERFIT_MIN_TRAIN_ACCURACY,
)
from app.training.loop import Epoch, Outcome, train

Target = Callable[[Outcome], bool]


def overfits(outcome: Outcome) -> bool:
    return (
        outcome.train_accuracy >= OVERFIT_MIN_TRAIN_ACCURACY
        and outcome.val_accuracy <= OVERFIT_MAX_VAL_ACCURACY
    )


def meets_task(outcome: Outcome) -> bool:
    return (
        outcome.val_accuracy >= TASK.min_val_accuracy
        and outcome.train_accuracy < TASK.max_train_accuracy
    )


BI_DROPOUT = SOLUTION  # bidirectional with the solution's dropouts; the readout varies
# (label, config, target, target's name): the story's presets, then the readout lesson.
VARIANTS: list[tuple[str, LabConfig, Target, str]] = [
    ("baseline (uni, last)", BASELINE, overfits, "overfits"),
    ("solution (bi, final, dropout)", SOLUTION, meets_task, "task"),
    ("bonus (2 bi layers, early stop)", BONUS, meets_task, "task"),
    ("bi, last, dropout", BI_DROPOUT.model_copy(update={"readout": "last"}), meets_task, "task"),
    ("bi, final, dropout (= solution)", BI_DROPOUT, meets_task, "task"),
    ("bi, mean, dropout", BI_DROPOUT.model_copy(update={"readout": "mean"}), meets_task, "task"),
    (
        "bi, final, no dropout",
        BI_DROPOUT.model_copy(update={"input_dropout": 0.0, "readout_dropout": 0.0}),
        meets_task,
        "task",
    ),
    (
        "uni, last, dropout",
        BI_DROPOUT.model_copy(update={"bidirectional": False, "readout": "last"}),
        meets_task,
        "task",
    ),
]


@dataclass
class Run:
    outcome: Outcome
    seconds: float  # the whole train() call
    first_epoch: float  # from the call to the first epoch's report: what a learner waits


def timed_run(config: LabConfig, data: LabData) -> Run:
    start = time.perf_counter()
    heard: list[float] = []

    def on_epoch(_: Epoch) -> None:
        heard.append(time.perf_counter() - start)

    outcome = train(config, data, on_epoch)
    return Run(outcome=outcome, seconds=time.perf_counter() - start, first_epoch=heard[0])


def spread(values: list[float]) -> str:
    """mean ± population std [min-max], in percent."""
    pct = [100 * v for v in values]
    mean, std = statistics.mean(pct), statistics.pstdev(pct)
    return f"{mean:5.1f} ± {std:3.1f} [{min(pct):5.1f}-{max(pct):5.1f}]"


def accuracies(outcomes: list[Outcome], between: str) -> str:
    """Train and val accuracy over the seeds."""
    train_ = spread([o.train_accuracy for o in outcomes])
    return f"{train_}{between}{spread([o.val_accuracy for o in outcomes])}"


def row(name: str, runs: list[Run], target: Target, target_name: str) -> str:
    outcomes = [r.outcome for r in runs]
    # Train mode (dropout on) over the kept epoch's batches: not the train accuracy.
    running = statistics.mean(o.epochs[o.best_epoch - 1].running_accuracy for o in outcomes)
    met = sum(target(o) for o in outcomes)
    best = ",".join(str(o.best_epoch) for o in outcomes)
    return (
        f"{name:32} {outcomes[0].parameters:>6,}  {accuracies(outcomes, ' ')} "
        f"{100 * running:6.1f}  {target_name:8} {met}/{len(runs)}  "
        f"{statistics.mean(r.seconds for r in runs):5.2f} "
        f"{statistics.mean(r.first_epoch for r in runs):6.3f}  {best}"
    )


def story_table(seeds: tuple[int, ...]) -> None:
    shown_seeds = ", ".join(map(str, seeds))
    threads = torch.get_num_threads()
    print(
        f"torch {torch.__version__}, {threads} thread, data seed {DATA_SEED}, init seeds ", end=""
    )
    print(f"{shown_seeds}; one run after another in this process")
    start = time.perf_counter()
    data = make_data()
    print(f"data: {time.perf_counter() - start:.3f} s")
    # The first optimizer in a process imports torch._dynamo: paid once per process (a warm
    # worker has paid it), so it is measured here and kept out of the runs' timings.
    start = time.perf_counter()
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    print(f"first torch.optim constructor in this process: {time.perf_counter() - start:.2f} s")
    print()
    header = (
        f"{'variant':32} {'params':>6}  {'train % (eval mode)':26} {'val %':26} {'running':>7}  "
        f"{'target':8} {'met':>3}  {'s/run':>5} {'1st ep':>6}  kept epochs"
    )
    print(header)
    print("-" * len(header))
    measured: dict[LabConfig, list[Run]] = {}
    for name, config, target, target_name in VARIANTS:
        if config not in measured:  # the same config twice gives the same numbers
            measured[config] = [
                timed_run(config.model_copy(update={"seed": s}), data) for s in seeds
            ]
        print(row(name, measured[config], target, target_name), flush=True)
    print()
    print(
        f"target 'overfits': train >= {OVERFIT_MIN_TRAIN_ACCURACY:.0%} and val <= "
        f"{OVERFIT_MAX_VAL_ACCURACY:.0%}; 'task': val >= {TASK.min_val_accuracy:.0%} and train "
        f"< {TASK.max_train_accuracy:.0%}. 'met': seeds meeting it."
    )
    print("'running': train-mode accuracy (dropout on) averaged over the kept epoch's batches.")
    both = statistics.mean(r.seconds for r in measured[BASELINE] + measured[SOLUTION]) * 2
    print(f"baseline + solution, 20 epochs each: {both:.2f} s per pair of runs")
    for name, config, _, _ in VARIANTS:
        if refusal := TASK.refusal(config):
            print(f"{name}: the task refuses it, {refusal}")


def _sweep_one(data_seed: int, seeds: tuple[int, ...]) -> str:
    torch.set_num_threads(1)
    data = make_data(data_seed)
    base = [train(BASELINE.model_copy(update={"seed": s}), data) for s in seeds]
    sol = [train(SOLUTION.model_copy(update={"seed": s}), data) for s in seeds]
    last = [
        train(BI_DROPOUT.model_copy(update={"readout": "last", "seed": s}), data) for s in seeds
    ]
    # Each target's worst seed, as a distance from its threshold (positive: met).
    margins = {
        "base train": min(o.train_accuracy for o in base) - OVERFIT_MIN_TRAIN_ACCURACY,
        "base val": OVERFIT_MAX_VAL_ACCURACY - max(o.val_accuracy for o in base),
        "sol val": min(o.val_accuracy for o in sol) - TASK.min_val_accuracy,
        "sol train": TASK.max_train_accuracy - max(o.train_accuracy for o in sol),
    }
    worst = min(margins.values())
    lesson = max(o.val_accuracy for o in last) < TASK.min_val_accuracy
    shown = "  ".join(f"{k} {100 * v:+5.1f}" for k, v in margins.items())
    verdict = "PASS" if worst > 0 else "fail"
    return (
        f"data seed {data_seed:3}: {verdict}  worst margin {100 * worst:+5.1f}  {shown}  "
        f"| bi-last val max {100 * max(o.val_accuracy for o in last):5.1f}"
        f" ({'fails the task' if lesson else 'MEETS the task'})"
        f"  | base {accuracies(base, ' / ')}  sol {accuracies(sol, ' / ')}"
    )


def sweep(count: int, seeds: tuple[int, ...], jobs: int) -> None:
    print(f"baseline and solution, init seeds {seeds}; margins in points, worst seed per target")
    with ProcessPoolExecutor(jobs) as pool:
        for line in pool.map(_sweep_one, range(count), [seeds] * count):
            print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep-data-seeds", type=int, metavar="N", default=0)
    parser.add_argument("--jobs", type=int, default=1, help="sweep processes (1 thread each)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.sweep_data_seeds:
        sweep(args.sweep_data_seeds, REFERENCE_SEEDS, args.jobs)
    else:
        story_table(REFERENCE_SEEDS)


if __name__ == "__main__":
    main()
