"""The OpenAPI document is valid and true: every documented API error has the shape the app
really answers (ErrorBody), real error bodies validate against it, and the operations declare
the bearer tokens they accept. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.testclient import TestClient

from app.core.config import Settings
from tests.accounts.support import sign_up

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
LEARNER = [{"learnerToken": []}, {"apiToken": ["practice"]}, {}]  # app.tokens: `practice`


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        if path.startswith("/api/v1/"):
            for method, operation in methods.items():
                yield path, method, operation


def error_validator(spec: dict[str, Any]) -> Draft202012Validator:
    registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": "urn:openapi#/components/schemas/ErrorBody"}, registry=registry
    )


def test_the_openapi_document_is_valid(spec: dict[str, Any]) -> None:
    validate(spec)


def test_every_documented_api_error_has_the_real_error_shape(spec: dict[str, Any]) -> None:
    documented = 0
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                documented += 1
                assert response["content"] == {"application/json": {"schema": ERROR_BODY}}, (
                    f"{method.upper()} {path} {status}"
                )
    assert documented > 40
    assert "HTTPValidationError" not in json.dumps(spec)
    body = spec["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"status", "code", "message", "field"}
    stale_save = {"diff", "current_version_id"}  # a course question saved meanwhile (409)
    assert set(body["properties"]) == {"status", "code", "message", "field", "errors", *stale_save}


def test_operations_document_422_for_their_input_404_for_their_path_413_for_a_body(
    spec: dict[str, Any],
) -> None:
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in operation["responses"], where
        if "{" in path:
            assert "404" in operation["responses"], where
        if operation.get("requestBody"):
            assert "413" in operation["responses"], where


def test_learner_operations_accept_the_bearer_token_and_admin_ones_a_signed_in_session(
    spec: dict[str, Any],
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert (
        schemes["learnerToken"]["type"] == "http" and schemes["learnerToken"]["scheme"] == "bearer"
    )
    assert schemes["accountSession"] == {
        **schemes["accountSession"],
        "type": "apiKey",
        "in": "cookie",
        "name": "tq_account",
    }
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/me", "get"),
        ("/api/v1/sessions", "post"),
        ("/api/v1/sessions/{session_id}/answers", "post"),
        ("/api/v1/progress", "get"),
        ("/api/v1/lab/runs", "post"),
        ("/api/v1/runs", "post"),
        ("/api/v1/playground", "post"),
    ]:
        assert paths[path][method]["security"] == LEARNER, path
        assert "401" in paths[path][method]["responses"], path
    assert "security" not in paths["/api/v1/topics"]["get"]  # the catalog is public
    verify = paths["/api/v1/admin/verify"]["post"]
    assert verify["security"] == [{"accountSession": []}]
    account = paths["/api/v1/account"]["get"]
    assert account["security"] == [{"accountSession": []}, {}] and "401" in account["responses"]
    assert {"401", "403"} <= set(verify["responses"])


def test_real_error_bodies_validate_against_the_documented_schema(
    client: TestClient, spec: dict[str, Any]
) -> None:
    over_limit = "x" * (Settings.model_fields["max_body_bytes"].default + 1)
    forged = {"Authorization": "Bearer not-a-signed-token"}
    learner = TestClient(client.app, base_url="http://testserver")
    sign_up(learner, "not-an-admin@example.org")
    cases: list[tuple[str, str, httpx.Response]] = [
        ("/api/v1/sessions", "post", client.post("/api/v1/sessions", json={"mode": "exam"})),
        ("/api/v1/sessions/{session_id}", "get", client.get("/api/v1/sessions/nope")),
        ("/api/v1/topics/{slug}", "get", client.get("/api/v1/topics/nope")),
        ("/api/v1/me", "get", client.get("/api/v1/me", headers=forged)),
        ("/api/v1/admin/verify", "post", client.post("/api/v1/admin/verify")),
        ("/api/v1/admin/verify", "post", learner.post("/api/v1/admin/verify")),
        ("/api/v1/sessions", "post", client.post("/api/v1/sessions", content=over_limit)),
        ("/api/v1/sessions", "post", client.post("/api/v1/sessions", json={"topic": "nope"})),
        ("/api/v1/lab/runs", "post", client.post("/api/v1/lab/runs", content=b"{not json")),
    ]
    validator = error_validator(spec)
    statuses = set()
    for path, method, response in cases:
        status = str(response.status_code)
        statuses.add(status)
        assert status in spec["paths"][path][method]["responses"], path
        validator.validate(response.json())
    assert statuses >= {"422", "404", "401", "403", "413"}
    invalid = cases[0][2].json()
    assert {e["field"] for e in invalid["errors"]} >= {"topic", "mode"}
