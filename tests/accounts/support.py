"""Signing test clients up and in through the real API (real Argon2 hashing, ~0.1 s each)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

PASSWORD = "a long enough passphrase"


def sign_up(client: TestClient, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    answer = client.post(
        "/api/v1/account/sign-up", json={"email": email, "password": password, **extra}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    answer = client.post("/api/v1/account/sign-in", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return answer.json()
