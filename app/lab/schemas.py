"""The lab's API shapes: what a learner sends to start a run, and what a run looks like."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from app.core.bounds import Text
from app.training.config import LabConfig

# refused: a learner's own model, built in the sandbox, was over the task's size (not trained).
RunStatus = Literal["queued", "running", "done", "failed", "stopped", "cancelled", "refused"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "stopped", "cancelled", "refused"})


class StartLabRun(BaseModel):
    config: LabConfig = Field(default_factory=LabConfig)
    code: Text | None = Field(
        default=None,
        max_length=20_000,
        description="Advanced mode: Python defining `class Model(nn.Module)`, trained in the "
        "sandbox with the config's procedure and seed; the config's model fields are ignored.",
    )
    task: bool = Field(
        default=True,
        description="Judge the run against the task: its constraints are checked before it "
        "starts and its result is passed or failed on each criterion. Off for free exploration.",
    )

    @field_validator("code")
    @classmethod
    def _some_code(cls, code: str | None) -> str | None:
        if code is not None and not code.strip():
            raise ValueError(EMPTY_CODE)
        return code


EMPTY_CODE = (
    "write a model class named Model (an nn.Module built with no arguments) to train; "
    "the starter code is a place to begin"
)


class EpochOut(BaseModel):
    epoch: int
    train_loss: float
    running_accuracy: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float


class Criterion(BaseModel):
    name: str
    passed: bool
    detail: str


class LabRunOut(BaseModel):
    id: str
    status: RunStatus
    config: LabConfig
    task: bool
    code: str | None = None
    parameters: int
    size_ratio: float = Field(description="Parameters against the baseline's.")
    epochs: list[EpochOut]
    best_epoch: int | None = None
    train_accuracy: float | None = Field(default=None, description="Eval mode, kept weights.")
    val_accuracy: float | None = None
    stopped_early: bool = False
    verdict: list[Criterion] = Field(default=[], description="Each task criterion, when judged.")
    passed: bool | None = Field(default=None, description="Every criterion met (task runs).")
    message: str | None = None
    output: str | None = Field(
        default=None, description="What your own model's code printed (its runs only)."
    )
    output_truncated: bool = Field(default=False, description="Cut at the runner's limit.")
    cached: bool = Field(default=False, description="Served from an identical earlier run.")
    torch_version: str
    duration_s: float | None = None
    created_at: datetime
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class ReferenceFigures(BaseModel):
    """One preset over the reference seeds: mean, spread and range of its real runs."""

    preset: str
    config: LabConfig
    parameters: int
    seeds: list[int]
    train_mean: float
    train_std: float
    train_min: float
    train_max: float
    val_mean: float
    val_std: float
    val_min: float
    val_max: float
    duration_mean: float | None
    runs: list[str] = Field(description="Ids of the runs behind the figures.")
