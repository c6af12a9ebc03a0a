"""What the lab page and GET /api/v1/lab show before any run of the learner's: the task, the
presets, the data set's design and the figures of the reference runs."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.lab import service
from app.lab.config import BASELINE, PRESETS, REFERENCES, TASK
from app.lab.running import Lab
from app.lab.schemas import ReferenceFigures
from app.training import design
from app.training.config import READOUTS, LabConfig, parameter_count


class Preset(BaseModel):
    name: str
    config: LabConfig
    parameters: int
    size_ratio: float
    meets_constraints: bool


class DataDesign(BaseModel):
    classes: int
    word_vector_size: int
    sequence_length: int
    train_size: int
    val_size: int
    keyword_positions: list[int]
    label_noise: float
    data_seed: int


class TaskOut(BaseModel):
    min_val_accuracy: float
    max_train_accuracy: float
    max_size_ratio: float
    max_parameters: int
    baseline_parameters: int
    procedure: dict[str, float | int]


class LabOverview(BaseModel):
    available: bool
    torch_version: str
    task: TaskOut
    presets: list[Preset]
    readouts: dict[str, str]
    data: DataDesign
    references: dict[str, ReferenceFigures]
    references_expected: int


def preset(name: str, config: LabConfig) -> Preset:
    count = parameter_count(config)
    return Preset(
        name=name,
        config=config,
        parameters=count,
        size_ratio=round(count / parameter_count(BASELINE), 3),
        meets_constraints=TASK.refusal(config) is None,
    )


def task_out() -> TaskOut:
    return TaskOut(
        min_val_accuracy=TASK.min_val_accuracy,
        max_train_accuracy=TASK.max_train_accuracy,
        max_size_ratio=TASK.max_size_ratio,
        max_parameters=TASK.max_parameters(),
        baseline_parameters=parameter_count(BASELINE),
        procedure={f: getattr(BASELINE, f) for f in TASK.procedure},
    )


DATA = DataDesign(
    classes=5,
    word_vector_size=50,
    sequence_length=design.SEQ_LEN,
    train_size=design.TRAIN_SIZE,
    val_size=design.VAL_SIZE,
    keyword_positions=list(design.KEYWORD_POSITIONS),
    label_noise=design.LABEL_NOISE,
    data_seed=design.DATA_SEED,
)


async def overview(lab: Lab) -> LabOverview:
    references = await lab.database.run(_references, lab.torch_version)
    if len(references) < len(REFERENCES):
        lab.measure_references()
    return LabOverview(
        available=lab.available(),
        torch_version=lab.torch_version,
        task=task_out(),
        presets=[preset(name, config) for name, config in PRESETS.items()],
        readouts=READOUTS,
        data=DATA,
        references=references,
        references_expected=len(REFERENCES),
    )


def _references(db: Session, torch_version: str) -> dict[str, ReferenceFigures]:
    return service.reference_figures(db, torch_version)
