"""No operation of /api/v1 answers 5xx, whatever a client sends: schemathesis draws requests
from the app's own OpenAPI document, valid ones and invalid ones (with edge values mixed in),
on SQLite and PostgreSQL. A 4xx comes in the error shape. Every operation is fuzzed; starting
a lab run reaches everything but the training itself (see lab_queue_full)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import assume, given
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from starlette.testclient import TestClient

from app.main import create_app
from tests.conftest import make_settings
from tests.hardening.support import EDGE_INTS, EDGE_TEXTS, URL_EDGE_TEXTS, bounded

# The document of the app the tests start (building an app opens nothing: that is its start).
DOCUMENT = create_app(make_settings("sqlite://", Path(tempfile.gettempdir()))).openapi()
MAX_URL = 16 * 1024
OPERATIONS = [
    result.ok() for result in schemathesis.openapi.from_dict(DOCUMENT).get_all_operations()
]
BOUNDED = bounded(25)
# A course's operation (its access check: app.courses.deps) and an administrator's answer
# this signed-out client from the sign-in check, whatever else the request holds: a few cases
# show that nothing gets past it as a 5xx, and the examples go where requests reach a handler.
SIGNED_OUT = bounded(5)
STAFF_ONLY = ("/api/v1/courses/{slug}", "/api/v1/admin/")


def for_accounts(operation: APIOperation) -> bool:
    return operation.path.startswith(STAFF_ONLY)


def roughened(value: Any, data: st.DataObject, texts: list[str] = EDGE_TEXTS) -> Any:
    """Now and then an edge value in place of a drawn one, at any depth: schemathesis draws
    within the document's bounds, and the bounds that were missing are what let 500s out."""
    if isinstance(value, dict):
        return {key: roughened(item, data, texts) for key, item in value.items()}
    if isinstance(value, list):
        return [roughened(item, data, texts) for item in value]
    edges = {int: EDGE_INTS, str: texts}.get(type(value))
    if edges and data.draw(st.integers(0, 2), label="an edge value instead") == 0:
        return data.draw(st.sampled_from(edges))
    return value


def known_ids(client: TestClient) -> dict[str, list[Any]]:
    """Ids that exist, for the parameters and fields of that name: most drawn ids name
    nothing, and what lies behind a 404 would go unfuzzed."""
    sessions = [
        client.post("/api/v1/sessions", json={"topic": "birnn", "mode": mode}).json()["id"]
        for mode in ("practice", "test")
    ]
    questions = client.app.state.catalog.topic("birnn").questions  # type: ignore[attr-defined]
    return {
        "session_id": sessions,
        "slug": ["birnn"],
        "question_id": [q.slug for q in questions[:5]],
        "topic": ["birnn"],
        "position": list(range(1, 11)),
    }


def with_known(values: Any, ids: dict[str, list[Any]], data: st.DataObject) -> Any:
    if not isinstance(values, dict):
        return values
    for name in values.keys() & ids.keys():
        if data.draw(st.booleans(), label=f"a known {name}"):
            values[name] = data.draw(st.sampled_from(ids[name]))
    return values


def request_of(case: schemathesis.Case, ids: dict[str, list[Any]], data: st.DataObject) -> Any:
    """The request for the case, roughened, with known ids now and then; built here, as
    schemathesis checks (and httpx encodes) no lone surrogate. A path is percent-encoded as
    a client writes it; a query string holds only what a URL carries."""
    request = case.as_transport_kwargs(base_url="http://testserver")
    path = {}
    for name, drawn in (case.path_parameters or {}).items():  # drawn: already encoded
        value = roughened(drawn, data)
        path[name] = drawn if value is drawn else quote(str(value), safe="", errors="surrogatepass")
    url = "http://testserver" + case.path.format(**with_known(path, ids, data))
    params = roughened(request.get("params"), data, URL_EDGE_TEXTS)
    sent = {"params": params, "headers": request.get("headers")}
    if "json" in request:  # JSON escapes what UTF-8 cannot encode
        body = with_known(roughened(request["json"], data), ids, data)
        sent["content"] = json.dumps(body).encode()
    elif isinstance(request.get("data"), bytes | str):
        sent["content"] = request["data"]
    elif request.get("data") is not None:
        sent["data"] = request["data"]
    return request["method"], url, sent


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_api_operation_answers_5xx(
    live_client: TestClient, lab_queue_full: None, operation: APIOperation
) -> None:
    cases = st.one_of([operation.as_strategy(generation_mode=mode) for mode in GenerationMode])
    ids = known_ids(live_client)

    @(SIGNED_OUT if for_accounts(operation) else BOUNDED)
    @given(case=cases, data=st.data())
    def answers_without_5xx(case: schemathesis.Case, data: st.DataObject) -> None:
        method, url, sent = request_of(case, ids, data)
        # HTTP parsers cap the request line before any app sees it (h11's default: 16 KiB), and
        # httpx sends no URL past 64 KiB: longer drawn paths are not the app's to answer.
        assume(len(url) <= MAX_URL)
        response = live_client.request(method, url, **sent)
        assert response.status_code < 500, f"{response.status_code}: {method} {url} {sent}"
        if response.status_code >= 400:
            shape = response.json()
            assert {"status", "code", "message", "field"} <= set(shape), shape
            assert shape["status"] == response.status_code, shape

    answers_without_5xx()


def test_the_fewer_cases_go_only_to_operations_a_signed_out_client_cannot_pass() -> None:
    fewer = {op.path for op in OPERATIONS if for_accounts(op)}
    assert "/api/v1/courses/{slug}/assignments/{aid}/gradebook" in fewer
    assert "/api/v1/sessions" not in fewer and "/api/v1/reports" not in fewer
    assert "/api/v1/account/sign-in" not in fewer  # a signed-out client's own
