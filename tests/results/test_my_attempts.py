"""A learner's own sessions by cursor (GET /api/v1/me/attempts): the same list as GET /sessions,
newest first, paged without repeats while sessions start between pages. On SQLite and
PostgreSQL."""

from __future__ import annotations

from starlette.testclient import TestClient

URL = "/api/v1/me/attempts"


def start(client: TestClient, mode: str = "practice") -> str:
    answer = client.post("/api/v1/sessions", json={"topic": "birnn", "mode": mode})
    assert answer.status_code == 201, answer.text
    session_id: str = answer.json()["id"]
    return session_id


def test_my_sessions_come_newest_first_in_pages_that_cover_each_once(
    client: TestClient, other_client: TestClient
) -> None:
    started = [start(client) for _ in range(4)] + [start(client, "test")]
    start(other_client)  # someone else's

    seen: list[str] = []
    answer = client.get(URL, params={"limit": 2})
    pages = 0
    while True:
        assert answer.status_code == 200, answer.text
        pages += 1
        seen += [item["id"] for item in answer.json()["items"]]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
        if pages == 1:
            start(client)  # newer than every page: not shifted into the next one
        answer = client.get(URL, params={"limit": 2, "cursor": cursor})

    assert pages == 3
    assert sorted(seen) == sorted(started) and len(set(seen)) == len(seen)
    listed = client.get("/api/v1/sessions", params={"limit": 100}).json()["items"]
    assert [item["id"] for item in listed][1:] == seen  # the newest started after page one


def test_filters_and_a_bad_cursor(client: TestClient) -> None:
    practice = start(client)
    test = start(client, "test")

    tests = client.get(URL, params={"mode": "test"}).json()
    refused = client.get(URL, params={"cursor": "forged"})

    assert [item["id"] for item in tests["items"]] == [test] and tests["next_cursor"] is None
    assert practice not in [item["id"] for item in tests["items"]]
    assert refused.status_code == 422 and refused.json()["field"] == "cursor"


def test_a_new_visitor_has_no_sessions(client: TestClient) -> None:
    answer = client.get(URL)

    assert answer.status_code == 200
    assert answer.json() == {"items": [], "next_cursor": None}
