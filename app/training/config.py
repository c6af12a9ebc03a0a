"""One lab run's configuration (the model, the procedure and the seed) and the model's size.

Torch-free on purpose: the web process validates a run and shows its parameter count live
without importing torch; only the runner's lab workers train (app.training.loop). The lab's
presets and the task's rules are the app's (app.lab.config), not this package's.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.core.bounds import Seed

# The toy data set (app.training.dataset): what every model reads and predicts.
INPUT_SIZE = 50  # word-vector size
NUM_CLASSES = 5

Cell = Literal["RNN", "LSTM", "GRU"]
Readout = Literal["last", "final", "mean"]
GATES: dict[str, int] = {"RNN": 1, "GRU": 3, "LSTM": 4}
READOUTS: dict[str, str] = {
    "last": "the output at the last time step, out[:, -1]",
    "final": "the final states of both directions, h_n[-2] and h_n[-1]",
    "mean": "the mean of the outputs over time",
}


class LabConfig(BaseModel):
    """One training run: the model, the procedure and the seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cell: Cell = "RNN"
    bidirectional: bool = False
    hidden_size: int = Field(default=64, ge=2, le=256)
    num_layers: int = Field(default=1, ge=1, le=3)
    input_dropout: float = Field(default=0.0, ge=0, le=0.9, description="On the word vectors.")
    layer_dropout: float = Field(
        default=0.0, ge=0, le=0.9, description="Between stacked layers (needs 2 or more)."
    )
    readout_dropout: float = Field(default=0.0, ge=0, le=0.9, description="On the readout.")
    readout: Readout = "last"
    epochs: int = Field(default=20, ge=1, le=40)
    lr: float = Field(default=1e-3, gt=0, le=0.1)
    batch_size: int = Field(default=8, ge=1, le=400)
    patience: int = Field(
        default=0, ge=0, le=40, description="Early stopping on validation accuracy; 0 is off."
    )
    seed: Seed = Field(default=0, description="Initial weights and dropout.")

    @field_validator("layer_dropout")
    @classmethod
    def _needs_layers(cls, value: float, info: ValidationInfo) -> float:
        if value and info.data.get("num_layers") == 1:
            raise ValueError("dropout between layers needs 2 or more layers")
        return value

    def key(self, torch_version: str, code: str | None = None) -> str:
        """Same config, seed, torch (and model code): the same numbers, so a cached run can
        answer."""
        data = {"config": self.model_dump(mode="json"), "torch": torch_version, "code": code}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def parameter_count(config: LabConfig) -> int:
    """Trainable parameters of the lab's model, by formula (a test holds it to torch's count)."""
    gates, hidden = GATES[config.cell], config.hidden_size
    directions = 2 if config.bidirectional else 1
    total = 0
    for layer in range(config.num_layers):
        inputs = INPUT_SIZE if layer == 0 else hidden * directions
        total += directions * gates * hidden * (inputs + hidden + 2)
    return total + hidden * directions * NUM_CLASSES + NUM_CLASSES
