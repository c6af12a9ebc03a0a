"""The account pages without JavaScript, on SQLite and PostgreSQL: forms that say what is wrong
next to the field, CSRF on every form, `next` kept to this site, reset mail over real SMTP, and
the first administrator made on the command line."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from fastapi import FastAPI
from starlette.testclient import TestClient

from app.cli import main
from tests.accounts.support import PASSWORD, sign_up
from tests.pages.test_pages_without_js import csrf


def form(client: TestClient, path: str, **fields: str) -> Any:
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf(page.text), **fields}, follow_redirects=False)


def field_problem(html: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-problem">([^<]+)</p>', html)
    assert found, f"no problem shown for {field}"
    return found.group(1)


def test_signing_up_by_form_goes_on_to_next_signed_in(client: TestClient) -> None:
    done = form(
        client,
        "/account/sign-up?next=/progress",
        email="noether@example.org",
        password=PASSWORD,
        next="/progress",
    )
    assert done.status_code == 303 and done.headers["location"] == "/progress"
    account = client.get("/account")
    assert account.status_code == 200 and "noether@example.org" in account.text
    assert 'href="/account"' in client.get("/").text, "the menu offers the account"


def test_a_bad_form_shows_each_problem_beside_its_field(client: TestClient) -> None:
    shown = form(client, "/account/sign-up", email="nope", password="short", next="/")
    assert shown.status_code == 422
    assert "email" in field_problem(shown.text, "email").lower() or "match" in field_problem(
        shown.text, "email"
    )
    assert "10 characters" in field_problem(shown.text, "password")
    assert 'aria-invalid="true"' in shown.text and 'value="nope"' in shown.text
    assert PASSWORD not in shown.text and "short" not in re.findall(r'value="([^"]*)"', shown.text)


def test_a_wrong_password_is_said_in_words_on_the_sign_in_page(client: TestClient) -> None:
    sign_up(client, "lovelace@example.org")
    client.post("/api/v1/account/sign-out")
    shown = form(client, "/account/sign-in", email="lovelace@example.org", password="x" * 12)
    assert shown.status_code == 401
    assert "not right" in field_problem(shown.text, "password")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_never_leads_off_the_site(client: TestClient, target: str) -> None:
    done = form(
        client, "/account/sign-up", email="hopper@example.org", password=PASSWORD, next=target
    )
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_every_account_form_refuses_a_post_without_its_csrf_token(client: TestClient) -> None:
    for path in ("/account/sign-up", "/account/sign-in", "/account/sign-out", "/account/reset"):
        fields = {"email": "a@example.org", "password": PASSWORD}
        assert client.post(path, data=fields).status_code == 422, path  # no token: a missing field
        forged = client.post(path, data={**fields, "csrf_token": "0" * 64})
        assert forged.status_code == 403 and "another site" in forged.text, path
    assert client.get("/api/v1/account").status_code == 401, "nothing signed anyone in"


def test_signing_out_by_form_leaves_a_fresh_visitor(client: TestClient) -> None:
    sign_up(client, "johnson@example.org")
    page = client.get("/account")
    out = client.post(
        "/account/sign-out", data={"csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert (
        client.get("/account", follow_redirects=False)
        .headers["location"]
        .startswith("/account/sign-in")
    )
    assert client.get("/api/v1/progress").status_code == 200


@pytest.fixture
def smtp_server() -> Iterator[list[Any]]:
    """A real SMTP server on localhost that keeps what it receives."""
    received: list[Any] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:  # a free port (aiosmtpd's start-up check cannot use 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    received.append(port)  # first, for the test to take
    yield received
    controller.stop()


def test_the_reset_link_goes_out_by_smtp_when_configured_and_sets_a_new_password(
    client: TestClient, app: FastAPI, smtp_server: list[Any]
) -> None:
    port = smtp_server.pop(0)
    sign_up(client, "franklin@example.org")
    settings = app.state.settings
    kept = settings.smtp_host, settings.smtp_port, settings.smtp_starttls
    settings.smtp_host, settings.smtp_port, settings.smtp_starttls = "127.0.0.1", port, False
    try:
        sent = form(client, "/account/reset", email="franklin@example.org")
    finally:
        settings.smtp_host, settings.smtp_port, settings.smtp_starttls = kept
    assert sent.status_code == 200 and 'role="status"' in sent.text
    (mail,) = smtp_server
    assert mail.rcpt_tos == ["franklin@example.org"]
    body = message_from_bytes(mail.content, policy=default).get_content()
    link = re.search(r"http://testserver(/account/reset/[\w-]+)", body)
    assert link, body
    path = link.group(1)
    done = form(client, path, password="a brand new passphrase")
    assert done.status_code == 303 and done.headers["location"] == "/account"
    used = client.get(path)
    assert used.status_code == 409 and "ask for a new one" in used.text


def test_create_admin_makes_a_site_administrator_on_the_command_line(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    monkeypatch.setenv("TORCHQUIZ_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("TORCHQUIZ_DATABASE_URL", raising=False)
    runner = CliRunner()
    made = runner.invoke(
        main,
        ["users", "create-admin", "--email", "Root@Example.org", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert made.exit_code == 0 and "created the site administrator root@example.org" in made.output
    again = runner.invoke(
        main, ["users", "create-admin", "--email", "root@example.org", "--password-stdin"]
    )
    assert again.exit_code == 0 and "now a site administrator" in again.output
    weak = runner.invoke(
        main,
        ["users", "create-admin", "--email", "b@example.org", "--password-stdin"],
        input="short\n",
    )
    assert weak.exit_code == 1 and "password" in weak.output
    bad = runner.invoke(main, ["users", "create-admin", "--email", "nope", "--password-stdin"])
    assert bad.exit_code == 1 and "not an email address" in bad.output
