"""The experiment lab's presets and the task's rules: what the app offers and accepts.

The config itself, its bounds and the model's size are the training code's (app.training.config),
shared with the runner. The task's rules are the app's alone: it checks them before it asks the
runner for a run, and the runner trusts the config it is sent (app.runner.lab_routes).
"""

from __future__ import annotations

from pydantic import BaseModel

from app.training.config import LabConfig, parameter_count

# The reference page's starting point: one direction, last step, no dropout.
BASELINE = LabConfig()
# Both directions read through their final states, with dropout on the way in and out.
SOLUTION = LabConfig(bidirectional=True, readout="final", input_dropout=0.7, readout_dropout=0.5)
# The bonus: a second bidirectional layer with dropout between the layers, and early stopping.
BONUS = SOLUTION.model_copy(update={"num_layers": 2, "layer_dropout": 0.5, "patience": 3})
PRESETS: dict[str, LabConfig] = {"baseline": BASELINE, "solution": SOLUTION, "bonus": BONUS}
# The classic readout mistake, measured: the solution read out at the last time step, and
# read out as the mean over time, beside its final states.
READOUT_VARIANTS: dict[str, LabConfig] = {
    "solution-last-step": SOLUTION.model_copy(update={"readout": "last"}),
    "solution-mean": SOLUTION.model_copy(update={"readout": "mean"}),
}
REFERENCES: dict[str, LabConfig] = PRESETS | READOUT_VARIANTS
REFERENCE_SEEDS = (0, 1, 2)


class Task(BaseModel):
    """What the learner's model must achieve, and within which limits."""

    min_val_accuracy: float = 0.85
    max_train_accuracy: float = 0.92  # below: a model that does not memorise the noisy labels
    max_size_ratio: float = 2.5  # parameters, against the baseline's
    procedure: tuple[str, ...] = ("epochs", "lr", "batch_size")  # as the baseline trains

    def max_parameters(self) -> int:
        return int(self.max_size_ratio * parameter_count(BASELINE))

    def refusal(self, config: LabConfig) -> str | None:
        """Why the task cannot accept this config (before any run), or None."""
        return self.size_refusal(parameter_count(config)) or self.procedure_refusal(config)

    def size_refusal(self, count: int) -> str | None:
        """Why a model of `count` parameters is too big for the task, or None: said the same
        way for a config (counted by formula) and for a learner's own model (counted once
        built, in the sandbox)."""
        limit = self.max_parameters()
        if count > limit:
            return (
                f"model size: {count:,} parameters is more than {self.max_size_ratio:g} times "
                f"the baseline's {parameter_count(BASELINE):,} (at most {limit:,})"
            )
        return None

    def procedure_refusal(self, config: LabConfig) -> str | None:
        changed = [f for f in self.procedure if getattr(config, f) != getattr(BASELINE, f)]
        if changed:
            shown = ", ".join(f"{f} {getattr(BASELINE, f)}" for f in changed)
            return f"training procedure: keep the baseline's {shown} (the same data and training)"
        return None


TASK = Task()


def broken_constraint(why: str) -> str:
    """A task run's refusal, before it trains (app.lab.service) or once its model is built."""
    return f"this run breaks the task's constraint on {why}"
