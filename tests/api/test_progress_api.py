"""Progress, mistakes and learner identity through the API."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.api.test_sessions_api import (
    bank_question,
    question_at,
    right_answer,
    start,
    wrong_answer,
)


def answer(client: TestClient, session: dict, position: int, *, right: bool) -> str:
    item = question_at(client, session["id"], position)
    question = bank_question(client, item["question"])
    value = right_answer(question) if right else wrong_answer(question)
    response = client.post(
        f"/api/v1/sessions/{session['id']}/answers", json={"position": position, "answer": value}
    )
    assert response.status_code == 200, response.text
    return item["question"]["id"]


def test_new_learner_has_empty_progress(client: TestClient) -> None:
    (progress,) = client.get("/api/v1/progress").json()["items"]
    assert progress["seen"] == 0 and progress["answers"] == 0
    assert progress["correct_rate"] is None
    assert progress["total_questions"] >= 36


def test_progress_counts_seen_and_correct_rate_per_difficulty(client: TestClient) -> None:
    session = start(client, mode="practice", difficulty="easy")
    answer(client, session, 1, right=False)
    answer(client, session, 1, right=True)
    answer(client, session, 2, right=True)
    (progress,) = client.get("/api/v1/progress").json()["items"]
    assert progress["seen"] == 2
    assert progress["answers"] == 3 and progress["correct_answers"] == 2
    assert progress["correct_rate"] == round(2 / 3, 3)
    # Question 1 was right only after the wrong answer's feedback showed its solution.
    assert progress["mastered"] == 1 and progress["correct_with_help"] == 1
    assert progress["by_difficulty"]["easy"]["seen"] == 2
    assert progress["by_difficulty"]["hard"]["answers"] == 0


def test_running_test_answers_stay_out_of_progress_until_finished(client: TestClient) -> None:
    session = start(client, mode="test")
    answer(client, session, 1, right=False)
    assert client.get("/api/v1/progress").json()["items"][0]["answers"] == 0
    assert client.get("/api/v1/topics/birnn/mistakes").json()["items"] == []
    client.post(f"/api/v1/sessions/{session['id']}/finish")
    assert client.get("/api/v1/progress").json()["items"][0]["answers"] == 1


def test_mistakes_are_latest_wrong_answers_most_recent_first(client: TestClient) -> None:
    session = start(client, mode="practice")
    first = answer(client, session, 1, right=False)
    second = answer(client, session, 2, right=False)
    fixed = answer(client, session, 3, right=False)
    answer(client, session, 3, right=True)
    mistakes = client.get("/api/v1/topics/birnn/mistakes").json()["items"]
    assert [m["question"]["id"] for m in mistakes] == [second, first]
    assert fixed not in {m["question"]["id"] for m in mistakes}


def test_practising_mistakes_starts_a_session_over_them(client: TestClient) -> None:
    session = start(client, mode="practice", difficulty="hard")
    wrong = answer(client, session, 2, right=False)
    retry = start(client, mode="practice", mistakes_only=True)
    assert retry["total"] == 1 and retry["filters"] == {"mistakes_only": True}
    assert question_at(client, retry["id"], 1)["question"]["id"] == wrong


def test_learners_do_not_see_each_others_progress(
    client: TestClient, other_client: TestClient
) -> None:
    session = start(client, mode="practice")
    answer(client, session, 1, right=False)
    assert other_client.get("/api/v1/progress").json()["items"][0]["answers"] == 0
    assert other_client.get("/api/v1/topics/birnn/mistakes").json()["items"] == []


def test_bearer_token_acts_as_the_same_learner(
    client: TestClient, other_client: TestClient
) -> None:
    me = client.get("/api/v1/me").json()
    session = start(client, mode="practice")
    answer(client, session, 1, right=True)
    other_client.cookies.clear()
    headers = {"Authorization": f"Bearer {me['token']}"}
    progress = other_client.get("/api/v1/progress", headers=headers).json()["items"]
    assert progress[0]["answers"] == 1


def test_forged_bearer_token_is_401(client: TestClient) -> None:
    token = client.get("/api/v1/me").json()["token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = client.get("/api/v1/progress", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert "signature" in response.json()["message"]


def test_forged_cookie_starts_a_fresh_learner_without_error(client: TestClient) -> None:
    session = start(client, mode="practice")
    answer(client, session, 1, right=True)
    client.cookies.set("tq_learner", "forged.value")
    response = client.get("/api/v1/progress")
    assert response.status_code == 200
    assert response.json()["items"][0]["answers"] == 0
    assert "tq_learner" in response.headers["set-cookie"]


def test_mistakes_list_paginates(client: TestClient) -> None:
    session = start(client, mode="practice")
    wrong = [answer(client, session, p, right=False) for p in (1, 2, 3)]
    first = client.get("/api/v1/topics/birnn/mistakes", params={"limit": 2}).json()
    rest = client.get("/api/v1/topics/birnn/mistakes", params={"limit": 2, "offset": 2}).json()
    assert first["total"] == rest["total"] == 3
    ids = [m["question"]["id"] for m in first["items"] + rest["items"]]
    assert ids == list(reversed(wrong))
