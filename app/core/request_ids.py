"""The id of the request being served, for logs and for the jobs it sends to a runner: set by
the request-id middleware (from a trusted proxy's X-Request-ID, else made here), read anywhere
below it. None outside a request (start-up, background work)."""

from __future__ import annotations

from contextvars import ContextVar

current: ContextVar[str | None] = ContextVar("torchquiz_request_id", default=None)
