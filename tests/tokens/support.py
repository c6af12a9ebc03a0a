"""Tokens made through the real API by a signed-in browser, and clients that send them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.courses.support import Visitor, new_client


def make_token(owner: Visitor, **body: Any) -> Any:
    """POST /api/v1/account/tokens as `owner`; the answer's JSON (with the secret)."""
    answer = owner.client.post("/api/v1/account/tokens", json={"name": "LMS", **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def bearer(app: FastAPI, secret: str) -> TestClient:
    """A client without cookies that sends the token on every request."""
    client = new_client(app)
    client.headers["Authorization"] = f"Bearer {secret}"
    return client
