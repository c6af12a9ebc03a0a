"""Request dependencies for routes that run code: the app's client of the code runner."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.runner.client import OFF_HERE, Runner, RunnerOffError, RunnerState


async def get_runner(request: Request) -> Runner:
    """The runner, whatever its state: a call while it warms up is answered 503 with
    Retry-After by the runner itself (app.runner.client)."""
    runner: Runner | None = request.app.state.runner
    if runner is None:
        raise RunnerOffError(request.app.state.runner_state.reason or OFF_HERE)
    return runner


RunnerDep = Annotated[Runner, Depends(get_runner)]


async def get_runner_if_any(request: Request) -> Runner | None:
    return request.app.state.runner  # type: ignore[no-any-return]


MaybeRunnerDep = Annotated[Runner | None, Depends(get_runner_if_any)]


async def get_runner_state(request: Request) -> RunnerState:
    """Where the runner stands (warming, ready, off...): what pages show by a Run button."""
    return request.app.state.runner_state  # type: ignore[no-any-return]


RunnerStateDep = Annotated[RunnerState, Depends(get_runner_state)]
