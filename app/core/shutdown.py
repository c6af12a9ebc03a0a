"""A graceful stop on SIGTERM (Kubernetes, systemd, `docker stop`, the load harness): draining
starts at the signal (app.core.draining), not when the server has already closed.

uvicorn, told to stop, closes its listener, waits for every open connection to end and only
then runs the app's shutdown: a live event stream would hold it open for good. So the app's
start-up puts `on_terminate` before uvicorn's own handler: the signal sets `draining` at once
(/readyz answers 503, event streams end with a retry hint, the outbox stops taking messages),
and uvicorn hears it `delay` seconds later (TORCHQUIZ_DRAIN_SECONDS), the time a load balancer
needs to stop sending requests here. A second SIGTERM passes on at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from app.core.draining import Draining

log = logging.getLogger("torchquiz")


def on_terminate(draining: Draining, delay: float = 0.0) -> Callable[[], None]:
    """Start `draining` on SIGTERM, then hand the signal to whoever handled it before (uvicorn)
    after `delay` seconds. Returns the undo, for the app's shutdown. Only the main thread can
    handle signals: elsewhere (a test client's thread) nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)

    def handle(signum: int, frame: FrameType | None) -> None:
        if draining.is_set():
            _pass_on(previous, signum, frame)
            return
        log.info("SIGTERM: draining; the server stops in %g s", delay)
        loop.call_soon_threadsafe(draining.start)
        if delay > 0:
            loop.call_soon_threadsafe(loop.call_later, delay, _pass_on, previous, signum, None)
        else:
            _pass_on(previous, signum, frame)

    signal.signal(signal.SIGTERM, handle)

    def undo() -> None:
        if signal.getsignal(signal.SIGTERM) is handle:
            signal.signal(signal.SIGTERM, previous)

    return undo


def _pass_on(previous: Any, signum: int, frame: FrameType | None) -> None:
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:  # the default: end the process as the signal would
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
