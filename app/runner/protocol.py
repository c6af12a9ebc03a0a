"""What goes into a run and what comes out. Everything here crosses a process boundary as JSON."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.runner.limits import Limits, RunKind

MAX_CODE_BYTES = 64 * 1024
# What the runner answers (503 runner_warming, with Retry-After) until its workers are up, and
# what the app passes on.
WARMING = "the code runner is warming up"
WARMING_RETRY_SECONDS = 5


class TestSpec(BaseModel):
    name: str = Field(max_length=120)
    code: str = Field(max_length=8192)


class RunRequest(BaseModel):
    code: str = Field(max_length=MAX_CODE_BYTES)
    kind: RunKind = "snippet"
    # Run after the code, each in a copy of its namespace; only what they observe comes back.
    tests: list[TestSpec] | None = Field(default=None, max_length=20)
    limits: Limits | None = Field(default=None, description="At most the kind's defaults.")
    # The caller's learner id, for the per-learner rate limit (never shown to the code).
    learner: str | None = Field(default=None, max_length=64)
    # The client's address (the app's app.core.clients), for the per-address rate limit: the
    # second layer, which a client that drops its cookie (a new learner each time) meets too.
    address: str | None = Field(default=None, max_length=64)
    # The caller's name for this run, to cancel it (POST /v1/runs/cancel) while it runs.
    handle: str | None = Field(default=None, max_length=64)


class TensorInfo(BaseModel):
    name: str
    shape: list[int]
    dtype: str


class ExceptionInfo(BaseModel):
    type: str
    classes: list[str] = Field(
        default=[], description="The class and its bases, most derived first."
    )
    message: str
    traceback: str = Field(description="Only the frames in the learner's own code.")
    line: int | None = None
    note: str | None = Field(
        default=None, description="What the sandbox had to do with it, in words (no stdin)."
    )


class WarningInfo(BaseModel):
    category: str
    classes: list[str] = []
    message: str


class TestRun(BaseModel):
    name: str
    exception: ExceptionInfo | None = None
    warnings: list[WarningInfo] = []
    tensors: list[TensorInfo] = []
    values: dict[str, float | int | bool | str] = {}


class LimitHit(BaseModel):
    name: str  # cpu, wall, memory, output, crash, cancelled
    message: str


class RunResult(BaseModel):
    ok: bool = Field(description="Ran to the end without an exception or a limit.")
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    exception: ExceptionInfo | None = None
    exit_code: int | None = Field(
        default=None,
        description="Set when the code called sys.exit; anything but 0 means the run failed.",
    )
    warnings: list[WarningInfo] = []
    tensors: list[TensorInfo] = []
    values: dict[str, float | int | bool | str] = {}
    tests: list[TestRun] = []
    limit: LimitHit | None = None
    elapsed_ms: float = 0.0
    cpu_ms: float = 0.0
    torch_version: str = ""
