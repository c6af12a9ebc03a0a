"""How much a run may use. Defaults per kind of run; every field can be tightened per request."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

RunKind = Literal["snippet", "check", "code_test", "lab_code"]


class Limits(BaseModel):
    cpu_seconds: float = Field(default=5, gt=0, le=120)
    wall_seconds: float = Field(default=10, gt=0, le=300)
    memory_mb: int = Field(default=1024, ge=64, le=8192)
    output_bytes: int = Field(default=64 * 1024, ge=1024, le=4 * 1024 * 1024)
    processes: int = Field(default=64, ge=1, le=1024, description="processes and threads")
    open_files: int = Field(default=64, ge=16, le=1024)
    file_size_mb: int = Field(default=16, ge=1, le=256)
    tmp_size_mb: int = Field(default=64, ge=1, le=1024)

    def within(self, ceiling: Limits) -> Limits:
        """These limits, but never above `ceiling` (what the runner allows)."""
        return Limits(
            **{
                name: min(getattr(self, name), getattr(ceiling, name))
                for name in Limits.model_fields
            }
        )


DEFAULT_LIMITS: dict[str, Limits] = {
    "snippet": Limits(),
    "check": Limits(),
    "code_test": Limits(cpu_seconds=10, wall_seconds=20),
    # A learner's own model trained on the lab's data (app.lab.custom), as a lab job may.
    "lab_code": Limits(cpu_seconds=30, wall_seconds=60),
}


def widest(limits: list[Limits]) -> Limits:
    """The most of each resource any of `limits` allows."""
    return Limits(
        **{name: max(getattr(lim, name) for lim in limits) for name in Limits.model_fields}
    )


# What a runner allows at most: every kind's defaults must fit under it.
CEILING = widest(list(DEFAULT_LIMITS.values()))
