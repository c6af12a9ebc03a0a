"""A replica that is shutting down: it stops taking work before it stops serving.

`app.state.draining` holds one `Draining` per app. When the server is told to stop (SIGTERM), it
is set first: /readyz answers 503 so a load balancer sends no new requests, live event streams
end with a retry hint so browsers reconnect (to another replica), and background work hands
back what it holds. Only then does the server close.
"""

from __future__ import annotations

import asyncio

# What an event stream tells the browser when this replica goes: reconnect after this long.
RETRY_MILLISECONDS = 1000


class Draining:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def start(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()
