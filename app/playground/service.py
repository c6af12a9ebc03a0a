"""The playground's rule before the runner: a request within the cost bounds, refused with the
bound named (app.runner.playground.too_costly, the same check the form and the runner make)."""

from __future__ import annotations

from app.runner.errors import TooCostlyError
from app.runner.playground import PlaygroundParams, too_costly


def refuse_if_too_costly(params: PlaygroundParams) -> None:
    if problem := too_costly(params):
        raise TooCostlyError(problem.message, field=problem.field)
