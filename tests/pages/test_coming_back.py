"""Coming back to work: resuming a test or practice, a question shown again with its answer,
flags and the summary before finishing a test, a practice session's summary, past tests and
mistakes that link to their question and solution."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from tests.api.test_sessions_api import (
    bank_question,
    question_at,
    right_answer,
    start,
    wrong_answer,
)
from tests.pages.test_pages_without_js import as_form, csrf


def api_answer(client: TestClient, session: dict[str, Any], position: int, *, right: bool) -> Any:
    question = bank_question(client, question_at(client, session["id"], position)["question"])
    value = right_answer(question) if right else wrong_answer(question)
    response = client.post(
        f"/api/v1/sessions/{session['id']}/answers", json={"position": position, "answer": value}
    )
    assert response.status_code == 200, response.text
    return response.json()


def save_test_answer(
    client: TestClient, session: dict[str, Any], position: int, **form: str
) -> Any:
    url = f"/tests/{session['id']}/{position}"
    page = client.get(url)
    return client.post(url, data={"csrf_token": csrf(page.text), **form})


def test_the_topic_page_offers_to_resume_an_open_test_and_practice_half_done(
    client: TestClient,
) -> None:
    assert "Carry on where you left off" not in client.get("/topics/birnn").text
    test = start(client, mode="test")
    api_answer(client, test, 1, right=True)
    practice = start(client, mode="practice", difficulty="easy")
    api_answer(client, practice, 1, right=False)
    page = client.get("/topics/birnn").text
    assert f'href="/tests/{test["id"]}/2"' in page
    assert "1 of 10 answered" in page
    assert f'href="/practice/{practice["id"]}/2"' in page
    assert "Resume practice at question 2" in page


def test_the_api_lists_my_sessions_with_where_to_resume_and_filters(client: TestClient) -> None:
    test = start(client, mode="test")
    practice = start(client, mode="practice")
    listed = client.get("/api/v1/sessions").json()
    assert [s["id"] for s in listed["items"]] == [practice["id"], test["id"]]
    assert listed["items"][1]["resume_position"] == 1 and listed["items"][1]["percent"] is None
    client.post(f"/api/v1/sessions/{test['id']}/finish")
    done = client.get("/api/v1/sessions", params={"mode": "test", "finished": "true"}).json()
    assert [s["id"] for s in done["items"]] == [test["id"]]
    assert done["items"][0]["resume_position"] is None and done["items"][0]["percent"] == 0.0
    assert client.get("/api/v1/sessions", params={"topic": "nope"}).status_code == 404
    assert client.get("/api/v1/sessions", params={"mode": "exam"}).status_code == 422


def test_another_learners_sessions_are_not_listed(
    client: TestClient, other_client: TestClient
) -> None:
    start(client, mode="test")
    assert other_client.get("/api/v1/sessions").json()["items"] == []


def test_a_practice_question_shown_again_shows_its_latest_answer_never_a_blank(
    client: TestClient,
) -> None:
    session = start(client, mode="practice", difficulty="easy")
    feedback = api_answer(client, session, 1, right=False)
    page = client.get(f"/practice/{session['id']}/1").text  # "Previous question", no ?answer=
    assert "Incorrect." in page and "Answer again" in page
    assert f'name="answer" value="{feedback["answer_id"]}"' in page or "Explanation" in page


def test_the_way_on_sits_right_under_the_verdict(client: TestClient) -> None:
    session = start(client, mode="practice", difficulty="easy")
    api_answer(client, session, 1, right=True)
    page = client.get(f"/practice/{session['id']}/1").text
    verdict, explanation = page.index('id="verdict"'), page.index('id="explanation"')
    next_step = page.index('id="next-step"')
    assert verdict < next_step < explanation
    assert "Next question</a>" in page[next_step:explanation]


def test_flags_are_saved_with_the_answer_and_listed_before_finishing(client: TestClient) -> None:
    session = start(client, mode="test")
    question = bank_question(client, client.get(f"/tests/{session['id']}/1").text)
    save_test_answer(
        client, session, 1, answer=as_form(right_answer(question)), flag="on", go="next"
    )
    save_test_answer(client, session, 3, flag="on", go="next")  # flagged, not answered
    view = client.get(f"/api/v1/sessions/{session['id']}").json()
    assert view["flagged_positions"] == [1, 3] and view["answered_positions"] == [1]
    page = client.get(f"/tests/{session['id']}/1").text
    assert re.search(r'id="flag" name="flag" value="on"\s+checked', page)
    assert "(answered) (flagged)" in page
    save_test_answer(client, session, 1, answer=as_form(right_answer(question)), go="next")
    view = client.get(f"/api/v1/sessions/{session['id']}").json()
    assert view["flagged_positions"] == [3], "saving without the box ticked clears the flag"

    summary = save_test_answer(client, session, 10, go="finish")
    assert str(summary.url).endswith("/summary")
    assert "1 of 10 questions answered, 1 flagged to revisit" in summary.text
    assert "Finish with 9 not answered" in summary.text
    assert client.get(f"/api/v1/sessions/{session['id']}").json()["finished_at"] is None


def test_the_api_sets_and_clears_flags_and_refuses_them_in_practice(client: TestClient) -> None:
    test = start(client, mode="test")
    url = f"/api/v1/sessions/{test['id']}/answers"
    question = bank_question(client, question_at(client, test["id"], 2)["question"])
    body = {"position": 2, "answer": right_answer(question), "flagged": True}
    assert client.post(url, json=body).status_code == 200
    assert client.post(url, json=body).status_code == 200, "flagging twice is harmless"
    assert client.get(f"/api/v1/sessions/{test['id']}").json()["flagged_positions"] == [2]
    assert client.post(url, json={**body, "flagged": False}).status_code == 200
    assert client.get(f"/api/v1/sessions/{test['id']}").json()["flagged_positions"] == []
    practice = start(client, mode="practice")
    refused = client.post(
        f"/api/v1/sessions/{practice['id']}/answers",
        json={"position": 1, "answer": "A", "flagged": True},
    )
    assert refused.status_code == 400 and "flags are for tests" in refused.json()["message"]


def test_the_summary_finishes_the_test_only_when_confirmed(client: TestClient) -> None:
    session = start(client, mode="test")
    summary = client.get(f"/tests/{session['id']}/summary")
    assert "Not answered (10)" in summary.text
    finished = client.post(
        f"/tests/{session['id']}/finish", data={"csrf_token": csrf(summary.text)}
    )
    assert str(finished.url).endswith("/result") and "You scored" in finished.text
    again = client.get(f"/tests/{session['id']}/summary")
    assert str(again.url).endswith("/result"), "a finished test has a result, not a summary"


def test_the_practice_summary_counts_right_alone_right_with_help_and_not_yet(
    client: TestClient,
) -> None:
    session = start(client, mode="practice", difficulty="easy")
    api_answer(client, session, 1, right=False)
    api_answer(client, session, 1, right=True)
    api_answer(client, session, 2, right=True)
    api_answer(client, session, 3, right=False)
    found = client.get(f"/api/v1/sessions/{session['id']}/summary").json()
    assert (found["answered"], found["correct"], found["correct_with_help"]) == (3, 1, 1)
    first = found["items"][0]
    assert first["attempts"] == 2 and first["correct"] is True and first["helped"] is True
    assert found["items"][3]["correct"] is None and found["items"][3]["attempts"] == 0
    assert 0 <= found["time_spent_seconds"] < 600
    page = client.get(f"/practice/{session['id']}/summary").text
    assert "You answered 3 of" in page and "Correct, with help" in page
    assert "1 not right yet" in page and "(minutes:seconds" in page
    to_review = page[page.index("To review") :]
    assert "Question 1 (" in to_review and "right only with help" in to_review
    assert "Question 3 (" in to_review and "Question 2 (" not in to_review
    last = client.get(f"/practice/{session['id']}/{session['total']}").text
    assert f"/practice/{session['id']}/summary" in last


def test_a_test_has_no_practice_summary(client: TestClient) -> None:
    session = start(client, mode="test")
    refused = client.get(f"/api/v1/sessions/{session['id']}/summary")
    assert refused.status_code == 409


def test_past_tests_are_listed_on_the_progress_page_with_a_link_to_each_review(
    client: TestClient,
) -> None:
    assert "No finished tests yet." in client.get("/progress").text
    session = start(client, mode="test")
    api_answer(client, session, 1, right=True)
    open_ = client.get("/progress").text
    assert "Tests to finish" in open_ and f"/tests/{session['id']}/2" in open_
    client.post(f"/api/v1/sessions/{session['id']}/finish")
    page = client.get("/progress").text
    assert f"/tests/{session['id']}/result" in page and "10%" in page
    assert "Tests to finish" not in page


def test_each_mistake_links_to_its_question_and_solution(client: TestClient) -> None:
    practice = start(client, mode="practice", difficulty="easy")
    feedback = api_answer(client, practice, 1, right=False)
    test = start(client, mode="test")
    api_answer(client, test, 4, right=False)
    client.post(f"/api/v1/sessions/{test['id']}/finish")
    page = client.get("/topics/birnn/mistakes").text
    practice_link = f"/practice/{practice['id']}/1?answer={feedback['answer_id']}#feedback"
    assert practice_link in page
    assert f"/tests/{test['id']}/result#review-4" in page
    followed = client.get(practice_link.split("#")[0])
    assert "Incorrect." in followed.text and "Explanation" in followed.text
