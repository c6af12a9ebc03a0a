"""A learner's request to run code; the answer is app.runner.protocol.RunResult."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.core.bounds import Text
from app.runner.protocol import MAX_CODE_BYTES


class RunCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Text = Field(
        min_length=1, max_length=MAX_CODE_BYTES, description="Python; torch is there."
    )
