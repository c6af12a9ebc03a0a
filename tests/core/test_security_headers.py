"""Security headers on every response (pages, API, static files, errors), on SQLite and
PostgreSQL; HSTS only in production; /api/v1/me never cached; templates that need no inline
script or style, which the Content-Security-Policy forbids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.core.config import PROJECT_DIR, Settings
from app.core.markdown import render
from app.main import create_app

PAGES = ["/", "/topics/birnn", "/progress", "/playground", "/nowhere"]
API = ["/api/v1/topics", "/api/v1/me", "/api/v1/sessions/nope", "/healthz"]
STATIC = [
    "/static/css/site.css",
    "/static/js/enhance.js",
    "/static/vendor/htmx/htmx.min.js",
    "/assets/code.css",
]


def directives(response_csp: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in response_csp.split(";"))
    return {name: value for name, value in parts}


@pytest.mark.parametrize("path", PAGES + API + STATIC)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)

    if path in STATIC:  # a real file, not a 404 that carries the headers too
        assert response.status_code == 200, path
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    policy = directives(response.headers["content-security-policy"])
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert "strict-transport-security" not in response.headers  # not in production


def test_a_refused_form_post_carries_them_too(client: TestClient) -> None:
    response = client.post("/topics/birnn/practice", data={"csrf_token": "forged"})

    assert response.status_code == 403
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in response.headers


def test_the_me_endpoint_is_never_cached_as_it_returns_the_bearer_token(
    client: TestClient,
) -> None:
    response = client.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["token"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"


def bare_app(tmp_path: Path, **overrides: object) -> TestClient:
    """The real app without its start-up: enough for headers on /healthz and static files."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        instance_dir=tmp_path,
        # Long and unlike a development key: production refuses those (app.core.config).
        secret_key="headers-test-secret-key-0123456789abcdef",
        runner_url="off",
        **overrides,  # type: ignore[arg-type]
    )
    return TestClient(create_app(settings))


def test_hsts_is_sent_in_production_only(tmp_path: Path) -> None:
    production = bare_app(tmp_path, environment="production")
    development = bare_app(tmp_path, environment="development")

    for path in ("/healthz", "/static/css/site.css"):
        hsts = production.get(path).headers["strict-transport-security"]
        assert hsts == "max-age=31536000"
        assert "strict-transport-security" not in development.get(path).headers


def test_frame_ancestors_come_from_the_setting_for_an_lms_to_add_its_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHQUIZ_FRAME_ANCESTORS", "'self' https://lms.example.edu")
    client = bare_app(tmp_path)

    policy = directives(client.get("/healthz").headers["content-security-policy"])

    assert policy["frame-ancestors"] == "'self' https://lms.example.edu"


def test_templates_hold_no_inline_script_event_handler_or_style() -> None:
    """The policy would block them: behaviour lives in static/js, looks in static/css."""
    offenders = []
    for template in sorted((PROJECT_DIR / "templates").rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\bsrc=)", r"\son[a-z]+\s*=", r"\sstyle\s*=", r"<style"):
            offenders += [f"{template.name}: {m.group()}" for m in re.finditer(pattern, text)]
    assert offenders == []


def test_markdown_table_alignment_is_a_class_not_an_inline_style() -> None:
    html = str(render("| n | name |\n|--:|:-:|\n| 1 | a |"))

    assert "style=" not in html
    assert '<th class="align-right">n</th>' in html
    assert '<td class="align-center">a</td>' in html
    css = (PROJECT_DIR / "static" / "css" / "site.css").read_text(encoding="utf-8")
    assert "td.align-right" in css
    assert "td.align-center" in css
