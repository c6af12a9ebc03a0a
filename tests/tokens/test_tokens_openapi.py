"""The OpenAPI document declares the apiToken scheme with its scopes, and each operation the
scope it needs, read from the route's own access check."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from app.tokens.scopes import SCOPES


def test_the_document_declares_api_tokens_and_each_routes_scope(client: TestClient) -> None:
    spec: dict[str, Any] = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["apiToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert all(name in scheme["description"] for name in SCOPES)
    paths = spec["paths"]
    learners = paths["/api/v1/courses/{slug}/learners"]["get"]["security"]
    assert learners == [{"accountSession": []}, {"apiToken": ["results:read"]}]
    remove = paths["/api/v1/courses/{slug}/learners/{user_id}"]["delete"]["security"]
    assert {"apiToken": ["results:write"]} in remove
    rename = paths["/api/v1/courses/{slug}"]["patch"]["security"]
    assert {"apiToken": ["courses:manage"]} in rename
    assert {"apiToken": ["practice"]} in paths["/api/v1/me"]["get"]["security"]
    assert "403" in paths["/api/v1/courses/{slug}/learners"]["get"]["responses"]
    # the account and its tokens take no API token
    for path in ("/api/v1/account", "/api/v1/account/tokens"):
        for operation in paths[path].values():
            assert not any("apiToken" in s for s in operation.get("security", [])), path
