"""Topics and questions through the JSON API: content without answers, pagination, errors."""

from __future__ import annotations

from starlette.testclient import TestClient


def test_topics_list_counts_questions_per_difficulty(client: TestClient) -> None:
    body = client.get("/api/v1/topics").json()
    assert body["total"] == 1 and body["offset"] == 0
    topic = body["items"][0]
    assert topic["slug"] == "birnn"
    assert sum(topic["difficulty_counts"].values()) == topic["question_count"]
    assert min(topic["difficulty_counts"].values()) >= 10


def test_topic_detail_renders_notes_as_sanitised_html(client: TestClient) -> None:
    topic = client.get("/api/v1/topics/birnn").json()
    assert "<h2>" in topic["notes_html"]
    assert '<pre class="highlight">' in topic["notes_html"], "code blocks are highlighted"
    assert "<script" not in topic["notes_html"]


def test_question_list_never_reveals_answers_or_solutions(client: TestClient) -> None:
    body = client.get("/api/v1/topics/birnn/questions", params={"limit": 100}).json()
    assert body["total"] == len(body["items"]) >= 36
    secrets = {
        "correct",
        "solution",
        "solution_code",
        "final_answer",
        "feedback",
        "accepted",
        "answer",
        "hints",
        "hints_html",
        "check",
        "expect",
        "solution_steps",
    }
    for item in body["items"]:
        assert not keys_of(item) & secrets, item["id"]


def keys_of(data: object) -> set[str]:
    """Every key anywhere in a JSON document."""
    if isinstance(data, dict):
        return set(data) | {k for value in data.values() for k in keys_of(value)}
    if isinstance(data, list):
        return {k for value in data for k in keys_of(value)}
    return set()


def test_question_list_paginates(client: TestClient) -> None:
    first = client.get("/api/v1/topics/birnn/questions", params={"limit": 5}).json()
    second = client.get("/api/v1/topics/birnn/questions", params={"limit": 5, "offset": 5}).json()
    assert len(first["items"]) == len(second["items"]) == 5
    assert first["total"] == second["total"]
    assert not {q["id"] for q in first["items"]} & {q["id"] for q in second["items"]}


def test_question_list_filters_by_difficulty(client: TestClient) -> None:
    body = client.get("/api/v1/topics/birnn/questions", params={"difficulty": "easy"}).json()
    assert body["items"] and {q["difficulty"] for q in body["items"]} == {"easy"}


def test_unknown_topic_and_question_are_404_in_the_error_shape(client: TestClient) -> None:
    for path in ("/api/v1/topics/nope", "/api/v1/questions/nope", "/api/v1/no/such/route"):
        response = client.get(path)
        assert response.status_code == 404, path
        body = response.json()
        assert body["status"] == 404 and body["code"] == "not_found" and body["message"]
        assert set(body) >= {"status", "code", "message", "field"}


def test_bad_query_parameter_is_422_naming_the_field(client: TestClient) -> None:
    response = client.get("/api/v1/topics/birnn/questions", params={"limit": 1000})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and body["field"] == "limit"
    response = client.get("/api/v1/topics/birnn/questions", params={"difficulty": "expert"})
    assert response.json()["field"] == "difficulty"


def test_wrong_payloads_are_422_with_the_field(client: TestClient) -> None:
    cases = [
        ({"topic": "birnn", "mode": "exam"}, "mode"),
        ({"mode": "test"}, "topic"),
        ({"topic": "birnn", "mode": "test", "surprise": 1}, "surprise"),
    ]
    for payload, field in cases:
        response = client.post("/api/v1/sessions", json=payload)
        assert response.status_code == 422, payload
        assert response.json()["field"] == field, response.json()
    broken = client.post(
        "/api/v1/sessions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["code"] == "validation_error"


def test_answer_payload_validation(client: TestClient) -> None:
    session = client.post("/api/v1/sessions", json={"topic": "birnn", "mode": "test"}).json()
    url = f"/api/v1/sessions/{session['id']}/answers"
    assert client.post(url, json={"position": 0, "answer": "A"}).json()["field"] == "position"
    assert (
        client.post(url, json={"position": 1, "answer": {"a": 1}})
        .json()["field"]
        .startswith("answer")
    )
    assert (
        client.post(url, json={"position": 1, "answer": "A", "time_taken_ms": -5}).json()["field"]
        == "time_taken_ms"
    )


def test_openapi_documents_the_v1_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {"/api/v1/topics", "/api/v1/sessions", "/api/v1/sessions/{session_id}/answers"} <= paths
    assert not any(p.startswith("/practice") for p in paths), "HTML pages stay out of the API docs"
