"""A lab run's live events as server-sent events, the same from any replica.

Each message's `id` is the change it shows (`N-0`: the run's change N, app.lab.service.changes;
with Redis, also the entry id of the run's stream). A client that reconnects, to this replica
or another, with `Last-Event-ID` (the header EventSource sends on its own, or the query
parameter `last_event_id` for clients that cannot set headers) gets only what it has not seen.

The API's stream (GET /api/v1/lab/runs/{id}/events):
- `epoch`: one per epoch new to this client, `{"epoch": k, ...its metrics}`, id `k+1-0`, before
  the `run` that includes it. A new client gets the epochs so far in its first `run` (no `epoch`
  for those); a resuming one (Last-Event-ID) gets one for each epoch after its id. So "every
  epoch exactly once" is checkable: the first `run`'s epochs, then each `epoch` event, number
  by number.
- `run`: the whole run (as GET /runs/{id}) after each change, id its latest change. A new
  client gets one at once, the run as it stands. The page renders this alone and keeps no
  state of its own: a stream that starts afresh (after a refused Last-Event-ID) still shows it
  right.
- `end`: the run has finished; nothing follows. A client that had seen the last change gets
  `end` alone.
- `retry: 1000` then the stream closes: this replica is shutting down; reconnect (a browser
  does, after that long, with its Last-Event-ID, and a load balancer sends it elsewhere).
- A comment line after a quiet spell, so proxies keep the connection.
A Last-Event-ID that is no event of the run (unreadable, or past its latest change) is
answered 400 `bad_last_event_id` before the stream starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi.sse import ServerSentEvent
from starlette.requests import Request

from app.core.draining import RETRY_MILLISECONDS, Draining
from app.core.errors import AppError
from app.lab.schemas import EpochOut, LabRunOut

EVENT_ID = re.compile(r"(\d{1,9})(?:-0)?")
KEEPALIVE = ServerSentEvent(comment="still following")
DRAINING = ServerSentEvent(retry=RETRY_MILLISECONDS)


class EventIdError(AppError):
    status = 400
    code = "bad_last_event_id"


@dataclass(frozen=True)
class Update:
    """What a reader shows next: the run at change `change` with the epochs new to the reader
    (after its Last-Event-ID), each with its change; or, with `run` None, nothing new for a
    while."""

    change: int
    run: LabRunOut | None = None
    epochs: list[tuple[int, EpochOut]] = field(default_factory=list)


def event_id(change: int) -> str:
    return f"{change}-0"


def resumed_from(request: Request) -> str | None:
    """The client's Last-Event-ID: the header, else the query parameter."""
    return request.headers.get("last-event-id") or request.query_params.get("last_event_id")


def place(last_event_id: str | None, latest: int) -> int | None:
    """The change a client has seen, from its Last-Event-ID (None: a new client); `latest`:
    the run's latest change. Anything else is refused by name rather than guessed at."""
    if last_event_id is None or not last_event_id.strip():
        return None
    found = EVENT_ID.fullmatch(last_event_id.strip())
    if found is None or int(found[1]) > latest:
        shown = last_event_id[:40]
        raise EventIdError(
            f"Last-Event-ID '{shown}' is not an event of this run: its events are "
            f"{event_id(0)} to {event_id(latest)}; reconnect without it to start again",
            field="Last-Event-ID",
        )
    return int(found[1])


def message(kind: str, data: str, change: int) -> ServerSentEvent:
    return ServerSentEvent(event=kind, raw_data=data, id=event_id(change))


def api_messages(update: Update) -> list[ServerSentEvent]:
    """The API's messages for one update: each new epoch, then the run."""
    if update.run is None:
        return [KEEPALIVE]
    epochs = [message("epoch", epoch.model_dump_json(), change) for change, epoch in update.epochs]
    return [*epochs, message("run", update.run.model_dump_json(), update.change)]


async def stream(
    request: Request,
    updates: AsyncIterator[Update],
    render: Callable[[Update], list[ServerSentEvent]],
    end: ServerSentEvent,
) -> AsyncIterator[ServerSentEvent]:
    """The messages of `updates`, then `end`; or, as soon as this replica starts draining,
    the retry hint, and the stream closes. FastAPI writes them (EventSourceResponse)."""
    draining: Draining | None = getattr(request.app.state, "draining", None)
    stopping = asyncio.ensure_future(draining.wait() if draining else asyncio.Event().wait())
    step: asyncio.Future[Update] | None = None
    try:
        while True:
            step = asyncio.ensure_future(anext(updates))
            await asyncio.wait({step, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                yield DRAINING
                return
            try:
                update = step.result()
            except StopAsyncIteration:
                yield end
                return
            for event in render(update):
                yield event
    finally:  # draining, or the client gone (this generator cancelled): the reader stops
        stopping.cancel()
        if step is not None and not step.done():
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await step
