"""Run a coroutine, or a call that runs one, in a thread of its own: in a test process that
has run a browser test, Playwright keeps an event loop going in the main thread, and
`asyncio.run` there fails (leaving the coroutine never awaited, a warning that then fails
whichever test comes next)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_call(call: Callable[[], T]) -> T:
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(call).result()


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`make` builds the coroutine inside the thread, so none is left unawaited if it fails."""
    return run_call(lambda: asyncio.run(make()))
