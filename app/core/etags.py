"""ETags on the API's GETs of one thing (a question, an assignment), and If-Match on changes.

A strong ETag is a hash of the JSON body, so it changes exactly when the answer does: a client
polling with If-None-Match gets 304 and no body while nothing changed, and a client saving
with If-Match the tag it read gets 412 instead of overwriting someone else's change.
`Cache-Control: private, no-cache`: a browser or proxy keeps the copy but asks each time, and
shares it with no one (a course's assignment is not public).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from app.core.errors import AppError

CACHE_CONTROL = "private, no-cache"
# For a tagged route's `responses=`.
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match tag is the current one"}
}


class PreconditionFailedError(AppError):
    status = 412
    code = "precondition_failed"


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def body_of(model: BaseModel) -> bytes:
    """The JSON the route would answer (pydantic's own encoding, as FastAPI's)."""
    return model.model_dump_json().encode()


def tagged(request: Request, model: BaseModel) -> Response:
    """The model as JSON with its ETag; 304 without a body when If-None-Match holds it."""
    body = body_of(model)
    tag = etag_of(body)
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), tag, weak=True):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def check_if_match(request: Request, current: BaseModel) -> None:
    """A change sent with If-Match goes ahead only if it names the current version's ETag
    (or `*`); without the header it goes ahead (the client did not ask)."""
    wanted = request.headers.get("if-match")
    if wanted is None:
        return
    tag = etag_of(body_of(current))
    if not _matches(wanted, tag, weak=False):
        raise PreconditionFailedError(
            f"If-Match: this was changed since you read it (its ETag is now {tag}); "
            "read it again, then send your change",
            field="If-Match",
        )


def _matches(header: str | None, tag: str, *, weak: bool) -> bool:
    """Whether a list of entity tags (or `*`) names `tag`: If-None-Match compares weakly
    (a `W/` tag matches), If-Match strongly (RFC 9110, 13.1)."""
    if header is None:
        return False
    for candidate in (part.strip() for part in header.split(",")):
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            if weak and candidate[2:] == tag:
                return True
            continue
        if candidate == tag:
            return True
    return False
