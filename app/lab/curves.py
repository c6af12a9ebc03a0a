"""The lab's learning curves, accuracy and loss side by side, from runs: a run's own, the
reference runs of the baseline and the solution, and a learner's latest runs beside the
baseline. The geometry is app.lab.charts'; the templates draw both (lab/_chart.html)."""

from __future__ import annotations

from dataclasses import dataclass

from app.lab.charts import Chart, Series, accuracy_chart, loss_chart
from app.lab.config import BASELINE, SOLUTION
from app.lab.schemas import LabRunOut


@dataclass(frozen=True)
class Curves:
    accuracy: Chart
    loss: Chart


def run_curves(run: LabRunOut) -> Curves:
    return curves("", [("", run)], run.config.epochs)


def reference_curves(baseline: LabRunOut | None, solution: LabRunOut | None) -> Curves | None:
    """Seed 0's curves of the baseline and the solution, when both are measured."""
    if baseline is None or solution is None:
        return None
    epochs = max(BASELINE.epochs, SOLUTION.epochs)
    named = [("baseline", baseline), ("solution", solution)]
    return curves(", seed 0: baseline and solution", named, epochs)


def compare_curves(runs: list[LabRunOut], baseline: LabRunOut | None) -> Curves | None:
    """The latest runs' validation curves over the baseline's (seed 0), which is always there
    once measured."""
    finished = [r for r in runs if r.epochs][:3]
    if not finished:
        return None
    named = [(f"run {runs.index(r) + 1}", r) for r in finished]
    if baseline is not None:
        named.insert(0, ("baseline, seed 0", baseline))
    epochs = max([r.config.epochs for r in finished] + [BASELINE.epochs])
    about = ": your latest runs and the baseline"
    return curves(about, named, epochs, training=False)


def curves(
    about: str, named: list[tuple[str, LabRunOut]], epochs: int, *, training: bool = True
) -> Curves:
    """Accuracy and loss per epoch of each named run: training and validation, or validation
    only. Training accuracy is measured in eval mode; training loss is the train-mode mean over
    the epoch's batches, the figure the optimiser saw (dropout raises it)."""
    accuracy: Series = []
    loss: Series = []
    for name, run in named:
        if training:
            accuracy.append(
                (_label(name, "training (eval mode)"), [e.train_accuracy for e in run.epochs])
            )
            loss.append((_label(name, "training (train mode)"), [e.train_loss for e in run.epochs]))
        accuracy.append((_label(name, "validation"), [e.val_accuracy for e in run.epochs]))
        loss.append((_label(name, "validation"), [e.val_loss for e in run.epochs]))
    what = (
        ("Accuracy", "Loss (cross-entropy)")
        if training
        else ("Validation accuracy", "Validation loss")
    )
    return Curves(
        accuracy=accuracy_chart(f"{what[0]} per epoch{about}", accuracy, epochs),
        loss=loss_chart(f"{what[1]} per epoch{about}", loss, epochs),
    )


def _label(name: str, series: str) -> str:
    said = f"{name}, {series}" if name else series
    return said[:1].upper() + said[1:]
