"""Accounts through the API, on SQLite and PostgreSQL: sign up keeps the browser's history, a
second browser signs in to the same history, sign-out and resets end sessions everywhere, and
guessing is slowed per account and per address."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.accounts.service import SignInLimits
from app.learners.models import AccountSession, Learner, PasswordReset, User
from tests.accounts.support import PASSWORD, sign_in, sign_up
from tests.api.test_help_and_mastery import answer, progress
from tests.api.test_sessions_api import bank_question, question_at, right_answer, start


def answered_once(client: TestClient) -> None:
    """One right answer in a new practice session."""
    session = start(client, mode="practice", difficulty="easy")
    shown = question_at(client, session["id"], 1)["question"]
    answer(client, session, 1, right_answer(bank_question(client, shown)))


def test_signing_up_keeps_what_the_browser_did_before(client: TestClient, db: Session) -> None:
    answered_once(client)
    before = progress(client)
    account = sign_up(client, "Ada@Example.org", display_name="Ada")
    assert account["email"] == "ada@example.org" and account["display_name"] == "Ada"
    assert progress(client) == before and before["seen"] == 1
    user = db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert db.scalar(select(Learner).where(Learner.user_id == user.id)) is not None


def test_a_second_browser_signs_in_to_the_same_history(
    client: TestClient, other_client: TestClient
) -> None:
    sign_up(client, "grace@example.org")
    answered_once(client)
    assert progress(other_client)["seen"] == 0
    sign_in(other_client, "GRACE@example.org")
    assert progress(other_client)["seen"] == 1


def test_signing_in_brings_the_browsers_anonymous_answers_along(
    client: TestClient, other_client: TestClient
) -> None:
    sign_up(client, "alan@example.org")
    answered_once(client)
    answered_once(other_client)  # anonymous, in another browser
    sign_in(other_client, "alan@example.org")
    assert progress(other_client)["seen"] >= 1
    assert progress(client) == progress(other_client)
    sessions = client.get("/api/v1/sessions").json()["items"]
    assert len(sessions) == 2, "both browsers' practice sessions are the account's"


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(client: TestClient) -> None:
    sign_up(client, "emmy@example.org")
    wrong = client.post(
        "/api/v1/account/sign-in", json={"email": "emmy@example.org", "password": "x" * 12}
    )
    nobody = client.post(
        "/api/v1/account/sign-in", json={"email": "nobody@example.org", "password": "x" * 12}
    )
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json()["message"] == nobody.json()["message"]
    assert wrong.json()["field"] == "password"


def test_an_address_already_taken_is_a_409_naming_the_field(
    client: TestClient, other_client: TestClient
) -> None:
    sign_up(client, "kurt@example.org")
    again = other_client.post(
        "/api/v1/account/sign-up", json={"email": "KURT@example.org", "password": PASSWORD}
    )
    assert again.status_code == 409 and again.json()["field"] == "email"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address", "password": PASSWORD}, "email"),
        ({"email": "a@example.org", "password": "short"}, "password"),
        ({"email": "a@example.org", "password": "x" * 300}, "password"),
        ({"email": "a\x00b@example.org", "password": PASSWORD}, "email"),
        (
            {"email": "a@example.org", "password": PASSWORD, "display_name": "x" * 500},
            "display_name",
        ),
        ({"email": "a@example.org"}, "password"),
    ],
)
def test_a_bad_sign_up_is_a_422_naming_the_field(
    client: TestClient, body: dict[str, str], field: str, db: Session
) -> None:
    answer = client.post("/api/v1/account/sign-up", json=body)
    assert answer.status_code == 422
    assert any(field in e["field"] for e in answer.json()["errors"]), answer.json()
    assert db.scalar(select(User).where(User.email == "a@example.org")) is None


def test_the_session_cookie_is_httponly_and_lax_and_secure_over_https(app: FastAPI) -> None:
    plain = TestClient(app, base_url="http://testserver")
    cookies = sign_up(plain, "mary@example.org") and plain_cookies(plain, "pat@example.org")
    assert "HttpOnly" in cookies and "SameSite=Lax" in cookies and "Secure" not in cookies
    https = TestClient(app, base_url="https://testserver")
    secure = plain_cookies(https, "lise@example.org")
    assert "HttpOnly" in secure and "SameSite=Lax" in secure and "; Secure" in secure


def plain_cookies(client: TestClient, email: str) -> str:
    answer = client.post("/api/v1/account/sign-up", json={"email": email, "password": PASSWORD})
    (account,) = [c for c in answer.headers.get_list("set-cookie") if c.startswith("tq_account=")]
    return account


def test_signing_out_ends_the_session_for_a_copy_of_its_cookie(
    client: TestClient, app: FastAPI
) -> None:
    sign_up(client, "rosalind@example.org")
    copied = client.cookies.get("tq_account")
    assert client.post("/api/v1/account/sign-out").status_code == 204
    assert client.get("/api/v1/account").status_code == 401
    thief = TestClient(app, base_url="http://testserver", cookies={"tq_account": copied})
    refused = thief.get("/api/v1/progress")
    assert refused.status_code == 401 and refused.json()["code"] == "signed_out"
    assert "tq_account=;" in refused.headers["set-cookie"], "the dead cookie is cleared"


def test_a_forged_or_expired_session_cookie_signs_nobody_in(
    client: TestClient, db: Session
) -> None:
    sign_up(client, "barbara@example.org")
    real = client.cookies.get("tq_account")
    client.cookies.set("tq_account", real[:-3] + "abc")
    assert client.get("/api/v1/account").status_code == 401, "a bad signature is anonymous"
    client.cookies.set("tq_account", real)
    db.execute(update(AccountSession).values(expires_at=AccountSession.created_at))
    db.flush()
    assert client.get("/api/v1/account").json()["code"] == "signed_out"


def test_failed_sign_ins_are_limited_per_account_then_per_address(
    client: TestClient, other_client: TestClient, app: FastAPI
) -> None:
    sign_up(client, "hedy@example.org")
    kept = app.state.sign_in_limits
    app.state.sign_in_limits = SignInLimits(
        burst=3, per_minute=1, address_burst=5, address_per_minute=1
    )
    try:
        wrong = {"email": "hedy@example.org", "password": "wrong password"}
        codes = [
            other_client.post("/api/v1/account/sign-in", json=wrong).status_code for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        limited = other_client.post("/api/v1/account/sign-in", json={**wrong, "password": PASSWORD})
        assert limited.status_code == 429, "even the right password waits"
        assert (
            "this account" in limited.json()["message"] and int(limited.headers["retry-after"]) >= 1
        )
        others = [
            other_client.post(
                "/api/v1/account/sign-in", json={"email": f"x{i}@example.org", "password": "y" * 10}
            ).status_code
            for i in range(3)
        ]
        assert others == [401, 401, 429]
        last = other_client.post(
            "/api/v1/account/sign-in", json={"email": "z@example.org", "password": "y" * 10}
        )
        assert "your network address" in last.json()["message"]
    finally:
        app.state.sign_in_limits = kept


def reset_link(caplog: pytest.LogCaptureFixture) -> str:
    (found,) = re.findall(r"/account/reset/([\w-]+)", caplog.text)
    return found


def test_a_password_reset_by_a_logged_link_works_once_and_ends_every_session(
    client: TestClient, other_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    sign_up(client, "chien@example.org")
    caplog.set_level(logging.WARNING, logger="torchquiz.mail")
    asked = other_client.post("/api/v1/account/password-reset", json={"email": "chien@example.org"})
    nobody = other_client.post("/api/v1/account/password-reset", json={"email": "no@example.org"})
    assert asked.status_code == nobody.status_code == 202
    token = reset_link(caplog)
    new = "another long passphrase"
    done = other_client.post(f"/api/v1/account/password-reset/{token}", json={"password": new})
    assert done.status_code == 200 and done.json()["email"] == "chien@example.org"
    assert client.get("/api/v1/account").json()["code"] == "signed_out"
    again = other_client.post(f"/api/v1/account/password-reset/{token}", json={"password": new})
    assert again.status_code == 409 and again.json()["field"] == "token"
    sign_in(client, "chien@example.org", new)


def test_an_expired_reset_link_is_refused(
    client: TestClient, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    sign_up(client, "maryam@example.org")
    caplog.set_level(logging.WARNING, logger="torchquiz.mail")
    client.post("/api/v1/account/password-reset", json={"email": "maryam@example.org"})
    db.execute(update(PasswordReset).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC)))
    db.flush()
    late = client.post(
        f"/api/v1/account/password-reset/{reset_link(caplog)}", json={"password": PASSWORD}
    )
    assert late.status_code == 409


def test_a_signed_in_learner_gets_no_bearer_token_that_would_outlive_the_session(
    client: TestClient,
) -> None:
    anonymous = client.get("/api/v1/me").json()
    sign_up(client, "ida@example.org")
    me = client.get("/api/v1/me").json()
    assert me["token"] is None and me["learner_id"] != anonymous["learner_id"]
    old = TestClient(client.app, headers={"Authorization": f"Bearer {anonymous['token']}"})
    assert progress(old)["seen"] == 0, "the old anonymous token no longer reaches the history"
