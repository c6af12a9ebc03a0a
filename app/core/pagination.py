"""The page shapes of the API's lists: by offset (items, total, limit, offset) for short lists,
and by cursor (items, next_cursor) for those an integration pages through while they grow."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from itsdangerous import BadData, URLSafeSerializer
from pydantic import BaseModel, Field

from app.core.bounds import Count
from app.core.errors import AppError

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
Offset = Annotated[Count, Query(description="Items to skip.")]


def page_of(items: list[Any], *, limit: int, offset: int) -> dict[str, Any]:
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
    }


class CursorPage(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page (also in the Link header); "
        "null on the last page."
    )


CURSOR_LENGTH = 512
Cursor = Annotated[
    str | None,
    Query(max_length=CURSOR_LENGTH, description="The `next_cursor` of the page before."),
]


class InvalidCursorError(AppError):
    status = 422
    code = "invalid_cursor"


@dataclass(frozen=True)
class Keyset:
    """Where a page ended: its last item's time and unique id. The next page starts after it,
    so rows added meanwhile neither shift a page (as an offset would) nor repeat one."""

    at: datetime
    id: str


class Cursors:
    """Cursors are signed, so a client cannot forge a position (or read more into one than
    "after this item"): a changed or truncated one is a 422 naming `cursor`."""

    def __init__(self, secret: str) -> None:
        self._signer = URLSafeSerializer(secret, salt="torchquiz.cursor")

    def dump(self, after: Keyset) -> str:
        signed = self._signer.dumps([after.at.isoformat(), after.id])
        return base64.urlsafe_b64encode(signed.encode()).decode().rstrip("=")

    def load(self, cursor: str) -> Keyset:
        try:
            signed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            at, id_ = self._signer.loads(signed)
            return Keyset(datetime.fromisoformat(at), str(id_))
        except (BadData, binascii.Error, UnicodeDecodeError, ValueError, TypeError):
            raise InvalidCursorError(
                "cursor: not a cursor this API gave (pass `next_cursor` as it came)",
                field="cursor",
            ) from None


async def get_cursors(request: Request) -> Cursors:
    state = request.app.state
    if getattr(state, "cursors", None) is None:
        state.cursors = Cursors(state.settings.signing_key())
    return state.cursors  # type: ignore[no-any-return]


CursorsDep = Annotated[Cursors, Depends(get_cursors)]


def next_link(request: Request, cursor: str) -> str:
    """The Link header of a page that has a next one (RFC 8288)."""
    return f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'
