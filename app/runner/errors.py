"""What the runner answers instead of a result, as the app's errors are (app.core.errors): each
error carries its status, code and headers, and one handler renders them all in the app's shape,
`{"status", "code", "message", "field"}` (app.runner.server).

Some are the same classes on both sides: the runner raises the refusals a run may meet before
it starts (warming, off) and the app's client (app.runner.client) raises them again from the
runner's answer, for the app's own handler to render; the app refuses a too costly playground
request before asking the runner, with the error the runner would answer.
"""

from __future__ import annotations

from app.core.errors import AppError
from app.runner.protocol import WARMING, WARMING_RETRY_SECONDS

# A learner who already has a lab job going, or an address that holds its share of the lab's
# queue: a job takes some seconds, so ask again in a few.
LAB_RETRY_SECONDS = 5
RETRY_AFTER_MS = "Retry-After-Ms"


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, round(seconds)))}


class RunnerWarmingError(AppError):
    """The runner is starting its workers: try again in a few seconds."""

    status = 503
    code = "runner_warming"

    def __init__(self, retry_after: int = WARMING_RETRY_SECONDS) -> None:
        super().__init__(WARMING)
        self.headers = _retry_after(retry_after)


class RunnerOffError(AppError):
    """Running code is off for good: the kernel allows no sandbox, or the operator said so."""

    status = 503
    code = "runner_off"


class QueueFullError(AppError):
    """The kind's queue has no place for the caller: try again after `retry_after` seconds."""

    status = 429
    code = "queue_full"

    def __init__(self, retry_after: float) -> None:
        super().__init__("the runner is busy; try again")
        self.retry_after = retry_after
        self.headers = _retry_after(retry_after)


class TooCostlyError(AppError):
    """A playground request that is valid, but more work than one may be (the figure and the
    limit: app.runner.playground.too_costly). The app refuses it with this error too."""

    status = 422
    code = "too_costly"


class WorkerUnavailableError(AppError):
    """A worker of the runner's (zygote, playground or lab worker) stopped, did not start or did
    not answer: this run cannot be made now."""

    status = 503
    code = "runner_unavailable"


class RateLimitedError(AppError):
    """Past the caller's learner's or address's rate: the message says which in words, the
    field ("learner" or "address") for the app, which remembers the refusal until it lapses
    (app.runner.refusals): to the millisecond in Retry-After-Ms, as Retry-After is whole
    seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.headers = {**_retry_after(retry_after), RETRY_AFTER_MS: str(round(retry_after * 1000))}


class LearnerBusyError(AppError):
    """The learner already has a lab job queued or running."""

    status = 429
    code = "run_in_progress"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = _retry_after(LAB_RETRY_SECONDS)


class AddressShareError(AppError):
    """The caller's address already holds its share of the lab's queue."""

    status = 429
    code = "queue_share"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = _retry_after(LAB_RETRY_SECONDS)
