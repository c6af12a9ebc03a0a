"""The Shape playground: build a recurrent layer from checked parameters and report what torch
says (shapes, parameter counts, or the exact error it raises).

No learner code comes through here: the code is generated from validated numbers and flags,
so a warm worker can run it in place, without a fresh process per request. The worker still
lives in the jail, as an unprivileged user, and is restarted if a request takes too long.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MEMORY_HEADROOM = 1 << 30
# Below the app and the runner: a request near the cost bounds takes up to about 0.7 s of CPU,
# and a flood of them must not slow the requests that hand out a learner's `print(1)`.
NICENESS = 10
MAX_ELEMENTS = 1_000_000  # input tensor size; with the bounds below, keeps requests short
# What one request may cost (see `too_costly`): a flood of heavy but valid requests must not
# starve everyone else on the machine. Every example in the bank is thousands of times below.
MAX_PARAMETERS = 10_000_000  # about 40 ms to build and initialise on one core
MAX_FLOP = 2_000_000_000  # 25-500 ms on one core, depending on the cell and the sizes
# Small layers are slow per step, not per FLOP: 8 million LSTM steps of hidden size 1 took 1 s.
MAX_STEPS = 1_000_000
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
# A request past a tenth of a bound, or of more than 4096 steps one after another (a GRU or RNN
# pays about 20 or 4 microseconds for each, whatever the batch), is heavy: the pool runs fewer
# of those at once than it has workers (app.runner.playground_pool).
HEAVY_SHARE = 0.1
HEAVY_SEQUENTIAL = 4096


class PlaygroundParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cell: Literal["RNN", "LSTM", "GRU"] = "LSTM"
    input_size: int = Field(default=10, ge=1, le=512)
    hidden_size: int = Field(default=20, ge=1, le=512)
    num_layers: int = Field(default=1, ge=1, le=4)
    bidirectional: bool = True
    batch_first: bool = True
    dropout: float = Field(default=0.0, ge=0.0, le=1.0)
    proj_size: int = Field(default=0, ge=0, le=512, description="LSTM only; 0 means none.")
    input_shape: list[int] = Field(default=[4, 7, 10], min_length=1, max_length=3)
    lengths: list[int] | None = Field(
        default=None, max_length=512, description="Per-sequence lengths: pack the batch."
    )

    @field_validator("input_shape")
    @classmethod
    def _small_input(cls, shape: list[int]) -> list[int]:
        if any(not 1 <= d <= 4096 for d in shape):
            raise ValueError("every input dimension must be between 1 and 4096")
        if math.prod(shape) > MAX_ELEMENTS:
            raise ValueError(f"the input may have at most {MAX_ELEMENTS:,} elements")
        return shape

    @field_validator("lengths")
    @classmethod
    def _lengths_in_range(cls, lengths: list[int] | None) -> list[int] | None:
        if lengths is not None and any(not 0 <= n <= 4096 for n in lengths):
            raise ValueError("every length must be between 0 and 4096")
        return lengths


@dataclass(frozen=True)
class Cost:
    """What a request would make torch do, estimated from its numbers alone."""

    parameters: int
    flop: int  # of the forward pass
    steps: int  # recurrent steps: sequences in the batch x their length x layers x directions
    sequential: int  # steps one after another: length x layers x directions


@dataclass(frozen=True)
class CostProblem:
    field: str  # the form field to change
    message: str


def cost_of(p: PlaygroundParams) -> Cost:
    """Per time step, layer and direction: gates x (input + hidden) x hidden multiply-adds
    (2 FLOP each), plus an LSTM's projection; times the sequences in the batch and their
    length (every dimension of the input but the features, padded: packing only shortens)."""
    gates, directions = GATES[p.cell], 2 if p.bidirectional else 1
    proj = p.proj_size if p.cell == "LSTM" else 0
    hidden, out = p.hidden_size, proj or p.hidden_size
    parameters = flop = 0
    for layer in range(p.num_layers):
        inputs = p.input_size if layer == 0 else directions * out
        weights = gates * hidden * (inputs + out) + proj * hidden
        parameters += weights + 2 * gates * hidden  # and two bias vectors
        flop += 2 * weights
    positions = math.prod(p.input_shape[:-1])
    return Cost(
        parameters=parameters * directions,
        flop=flop * directions * positions,
        steps=positions * p.num_layers * directions,
        sequential=_length(p) * p.num_layers * directions,
    )


def _length(p: PlaygroundParams) -> int:
    """The input's time dimension: (batch, length, features) with batch_first, else (length,
    batch, features) or, unbatched, (length, features)."""
    if len(p.input_shape) == 3 and p.batch_first:
        return p.input_shape[1]
    return p.input_shape[0] if len(p.input_shape) > 1 else 1


def is_heavy(p: PlaygroundParams) -> bool:
    """Past a tenth of any bound, or long enough to be slow whatever its size."""
    cost = cost_of(p)
    shares = (
        cost.parameters / MAX_PARAMETERS,
        cost.flop / MAX_FLOP,
        cost.steps / MAX_STEPS,
    )
    return max(shares) > HEAVY_SHARE or cost.sequential > HEAVY_SEQUENTIAL


def too_costly(p: PlaygroundParams) -> CostProblem | None:
    """The first cost bound the request passes, named with its figure; None if within all.
    One pure function, checked wherever a request comes in (the app's form and API, the
    runner's route)."""
    cost = cost_of(p)
    if cost.parameters > MAX_PARAMETERS:
        message = (
            f"this model has {cost.parameters:,} parameters; "
            f"the playground allows {MAX_PARAMETERS:,}"
        )
        return CostProblem("hidden_size", message)
    if cost.flop > MAX_FLOP:
        message = (
            f"this model needs about {cost.flop / 1e9:,.1f} GFLOP for this input; "
            f"the playground allows {MAX_FLOP / 1e9:g} GFLOP"
        )
        return CostProblem("input_shape", message)
    if cost.steps > MAX_STEPS:
        message = (
            f"this input needs {cost.steps:,} recurrent steps (sequences x length x layers x "
            f"directions); the playground allows {MAX_STEPS:,}"
        )
        return CostProblem("input_shape", message)
    return None


class TorchError(BaseModel):
    type: str
    message: str


class ParameterInfo(BaseModel):
    name: str
    shape: list[int]
    count: int


class ParameterGroup(BaseModel):
    layer: int
    direction: Literal["forward", "backward"]
    parameters: list[ParameterInfo]
    count: int


class PlaygroundResult(BaseModel):
    code: str = Field(description="The equivalent Python: what was run.")
    error: TorchError | None = Field(default=None, description="What PyTorch raised, if it did.")
    limit: str | None = Field(default=None, description="Set when the request ran too long.")
    shapes: dict[str, list[int]] = Field(default={}, description="out, h_n and (LSTM) c_n.")
    groups: list[ParameterGroup] = []
    total_parameters: int = 0
    warnings: list[str] = []
    elapsed_ms: float = 0.0
    torch_version: str = ""


def build_code(p: PlaygroundParams) -> str:
    """The program the playground runs, shown to the learner as the equivalent code."""
    options = [f"{p.input_size}", f"{p.hidden_size}"]
    if p.num_layers != 1:
        options.append(f"num_layers={p.num_layers}")
    if p.bidirectional:
        options.append("bidirectional=True")
    if p.batch_first:
        options.append("batch_first=True")
    if p.dropout:
        options.append(f"dropout={p.dropout!r}")
    if p.proj_size:
        options.append(f"proj_size={p.proj_size}")
    lines = [
        "import torch",
        "from torch import nn",
        "",
        f"layer = nn.{p.cell}({', '.join(options)})",
        f"x = torch.randn{tuple(p.input_shape)!r}",
    ]
    if p.lengths is not None:
        lines += [
            f"lengths = torch.tensor({p.lengths!r})",
            "packed = nn.utils.rnn.pack_padded_sequence(",
            f"    x, lengths, batch_first={p.batch_first}, enforce_sorted=False",
            ")",
            "packed_out, state = layer(packed)",
            "out, out_lengths = nn.utils.rnn.pad_packed_sequence(",
            f"    packed_out, batch_first={p.batch_first}",
            ")",
        ]
    else:
        lines.append("out, state = layer(x)")
    if p.cell == "LSTM":
        lines.append("h_n, c_n = state")
    else:
        lines.append("h_n = state")
    return "\n".join(lines) + "\n"


def explore(p: PlaygroundParams) -> dict[str, Any]:
    """Run the generated code; report shapes, parameters per layer and direction, or the error."""
    import warnings

    import torch

    code = build_code(p)
    namespace: dict[str, Any] = {}
    started = time.perf_counter()
    # Without autograd: the same shapes and errors, in half the time and a fraction of the
    # memory (a GRU or RNN step records its graph one small op at a time).
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        try:
            exec(compile(code, "<playground>", "exec"), namespace)  # noqa: S102 - generated, checked
            error = None
        except Exception as exc:  # what torch raises is the answer, too
            error = {"type": type(exc).__name__, "message": str(exc)[:2000]}
    shapes = {
        name: list(namespace[name].shape)
        for name in ("out", "h_n", "c_n")
        if isinstance(namespace.get(name), torch.Tensor)
    }
    layer = namespace.get("layer")
    groups = parameter_groups(layer) if isinstance(layer, torch.nn.Module) else []
    return {
        "code": code,
        "error": error,
        "shapes": shapes,
        "groups": groups,
        "total_parameters": sum(group["count"] for group in groups),
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught][:10],
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
        "torch_version": torch.__version__,
    }


def parameter_groups(layer: Any) -> list[dict[str, Any]]:
    """The layer's parameters by layer and direction, in torch's own order."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for name, tensor in layer.named_parameters():
        match = re.search(r"_l(\d+)(_reverse)?$", name)
        key = (int(match[1]), "backward" if match[2] else "forward") if match else (0, "forward")
        item = {"name": name, "shape": list(tensor.shape), "count": tensor.numel()}
        groups.setdefault(key, []).append(item)
    return [
        {"layer": n, "direction": d, "parameters": items, "count": sum(i["count"] for i in items)}
        for (n, d), items in groups.items()
    ]


def cap_memory(headroom: int) -> None:
    """Let the worker grow by `headroom` bytes: a bigger allocation fails inside torch, as an
    error the learner sees, instead of hurting the machine."""
    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (size + headroom, size + headroom))


def main() -> None:
    """The worker: warm torch, enter the jail as an unprivileged user, answer JSON lines."""
    from app.runner import jail
    from app.runner.zygote import build_seccomp, warm_up

    mode, uid = sys.argv[1], int(sys.argv[2])
    seccomp = build_seccomp()
    warm_up()
    explore(PlaygroundParams())  # the first call pays for lazy imports
    cap_memory(MEMORY_HEADROOM)
    os.nice(NICENESS)
    jail.confine(mode, uid, seccomp)  # type: ignore[arg-type]
    sys.stdout.write(json.dumps({"event": "ready"}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = explore(PlaygroundParams.model_validate(request["params"]))
        except Exception as exc:  # a bad request must not end the worker
            error = {"type": type(exc).__name__, "message": str(exc)[:2000]}
            result = {"code": "", "error": error}
        sys.stdout.write(json.dumps({"id": request["id"], "result": result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
