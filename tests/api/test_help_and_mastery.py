"""Help in practice (app.attempts.help): hints revealed one at a time by the server, a code
question's solution only once earned or asked for, and progress that tells an answer found
alone from one given after the solution or the last hint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.attempts.models import Reveal
from tests.api.test_sessions_api import (
    bank_question,
    question_at,
    right_answer,
    start,
    wrong_answer,
)
from tests.pages.test_pages_without_js import csrf


def position_of(client: TestClient, session: dict[str, Any], kind: str) -> int:
    """The first position in the session holding a question of type `kind`."""
    return next(
        p
        for p in range(1, session["total"] + 1)
        if question_at(client, session["id"], p)["question"]["type"] == kind
    )


def answer(client: TestClient, session: dict[str, Any], position: int, value: Any) -> Any:
    response = client.post(
        f"/api/v1/sessions/{session['id']}/answers", json={"position": position, "answer": value}
    )
    assert response.status_code == 200, response.text
    return response.json()


def hint(client: TestClient, session: dict[str, Any], position: int, number: int) -> Any:
    url = f"/api/v1/sessions/{session['id']}/questions/{position}/hints"
    return client.post(url, json={"number": number})


def progress(client: TestClient) -> dict[str, Any]:
    (found,) = client.get("/api/v1/progress").json()["items"]
    return found  # type: ignore[no-any-return]


def test_hints_come_from_the_server_one_at_a_time_and_in_order(client: TestClient) -> None:
    session = start(client, mode="practice", difficulty="hard")
    item = question_at(client, session["id"], 1)["question"]
    assert item["hints_html"] == [] and item["hints_total"] >= 1
    skipped = hint(client, session, 1, 2) if item["hints_total"] >= 2 else None
    if skipped is not None:
        assert skipped.status_code == 409 and "hint 1 first" in skipped.json()["message"]
    first = hint(client, session, 1, 1)
    assert first.status_code == 200 and len(first.json()["hints_html"]) == 1
    assert hint(client, session, 1, 1).json() == first.json(), "asking twice changes nothing"
    assert (
        question_at(client, session["id"], 1)["question"]["hints_html"]
        == first.json()["hints_html"]
    )
    beyond = hint(client, session, 1, item["hints_total"] + 1)
    assert (
        beyond.status_code == 404
        and f"hints 1 to {item['hints_total']}" in beyond.json()["message"]
    )


def test_a_hint_asked_twice_at_once_is_recorded_once(client: TestClient, db: Session) -> None:
    session = start(client, mode="practice")
    for _ in range(3):
        assert hint(client, session, 1, 1).status_code == 200
    reveals = db.scalar(select(func.count()).select_from(Reveal).where(Reveal.position == 1))
    assert reveals == 1


def test_a_test_gives_no_hints_and_no_solutions(client: TestClient) -> None:
    session = start(client, mode="test")
    refused = hint(client, session, 1, 1)
    assert refused.status_code == 409 and "for practice" in refused.json()["message"]
    url = f"/api/v1/sessions/{session['id']}/questions/1/solution"
    assert client.post(url).status_code == 409


def test_help_for_a_position_outside_the_session_is_a_404(client: TestClient) -> None:
    session = start(client, mode="practice", difficulty="easy")
    outside = session["total"] + 1
    assert hint(client, session, outside, 1).status_code == 404
    url = f"/api/v1/sessions/{session['id']}/questions/{outside}/solution"
    assert client.post(url).status_code == 404


def test_a_code_question_keeps_its_solution_until_answered_right_or_asked_for(
    client: TestClient,
) -> None:
    session = start(client, mode="practice")
    position = position_of(client, session, "code")
    question = bank_question(client, question_at(client, session["id"], position)["question"])
    wrong = answer(client, session, position, wrong_answer(question))
    assert wrong["correct"] is False and wrong["solution"] is None
    asked = client.post(f"/api/v1/sessions/{session['id']}/questions/{position}/solution")
    assert asked.status_code == 200 and "reference" not in asked.json()
    assert asked.json()["reference_code_html"], "the reference answer, on request"
    again = client.get(f"/api/v1/sessions/{session['id']}/answers/{wrong['answer_id']}").json()
    assert again["solution"] is not None, "seen once, it stays shown"
    right = answer(client, session, position, right_answer(question))
    assert right["correct"] is True
    counted = progress(client)
    assert counted["mastered"] == 0 and counted["correct_with_help"] == 1


def test_a_code_question_answered_right_shows_its_solution_and_counts_as_mastered(
    client: TestClient,
) -> None:
    session = start(client, mode="practice")
    position = position_of(client, session, "code")
    question = bank_question(client, question_at(client, session["id"], position)["question"])
    right = answer(client, session, position, right_answer(question))
    assert right["correct"] is True and right["solution"]["reference_code_html"]
    assert progress(client)["mastered"] == 1


def test_an_answer_after_the_last_hint_is_correct_but_not_mastered(client: TestClient) -> None:
    session = start(client, mode="practice", difficulty="easy")
    item = question_at(client, session["id"], 1)
    for number in range(1, item["question"]["hints_total"] + 1):
        assert hint(client, session, 1, number).status_code == 200
    question = bank_question(client, item["question"])
    assert answer(client, session, 1, right_answer(question))["correct"] is True
    counted = progress(client)
    assert counted["mastered"] == 0 and counted["correct_with_help"] == 1
    page = client.get("/progress")
    assert "1 more was answered correctly after seeing the solution or every hint" in page.text


def test_some_hints_but_not_the_last_still_count_as_mastered(client: TestClient) -> None:
    session = start(client, mode="practice", difficulty="hard")
    item = question_at(client, session["id"], 1)
    if item["question"]["hints_total"] < 2:
        position = next(
            p
            for p in range(2, session["total"] + 1)
            if question_at(client, session["id"], p)["question"]["hints_total"] >= 2
        )
        item = question_at(client, session["id"], position)
    position = item["position"]
    assert hint(client, session, position, 1).status_code == 200
    question = bank_question(client, item["question"])
    assert answer(client, session, position, right_answer(question))["correct"] is True
    assert progress(client)["mastered"] == 1


def test_a_right_answer_in_a_later_session_masters_a_question_missed_before(
    client: TestClient,
) -> None:
    first = start(client, mode="practice", difficulty="easy")
    item = question_at(client, first["id"], 1)
    question = bank_question(client, item["question"])
    answer(client, first, 1, wrong_answer(question))
    answer(client, first, 1, right_answer(question))  # after the feedback showed the solution
    assert progress(client)["mastered"] == 0
    # The question is no longer a mistake (its latest answer is right), so practise it by tag.
    again = start(client, mode="practice", tag=question.tags[0])
    position = next(
        p
        for p in range(1, again["total"] + 1)
        if question_at(client, again["id"], p)["question"]["id"] == question.id
    )
    shown = bank_question(client, question_at(client, again["id"], position)["question"])
    assert answer(client, again, position, right_answer(shown))["correct"] is True
    assert progress(client)["mastered"] == 1


def test_the_page_reveals_hints_by_form_and_shows_the_solution_button_after_a_wrong_code_answer(
    client: TestClient,
) -> None:
    session = start(client, mode="practice")
    position = position_of(client, session, "code")
    url = f"/practice/{session['id']}/{position}"
    page = client.get(url)
    assert "Show hint 1 of" in page.text and 'class="hint"' not in page.text
    shown = client.post(f"{url}/hints", data={"csrf_token": csrf(page.text), "number": "1"})
    assert shown.status_code == 200 and "Hint 1 of" in shown.text and "Show hint 2 of" in shown.text
    question = bank_question(client, page.text)
    answered = client.post(
        url, data={"csrf_token": csrf(page.text), "answer": wrong_answer(question)}
    )
    assert "Show solution" in answered.text and "A reference answer" not in answered.text
    answer_id = answered.url.params["answer"]
    revealed = client.post(
        f"{url}/solution", data={"csrf_token": csrf(answered.text), "answer": answer_id}
    )
    assert revealed.status_code == 200 and "A reference answer" in revealed.text
