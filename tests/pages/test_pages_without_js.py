"""The HTML pages work as plain forms: post, redirect, render. CSRF guards every form."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from app.bank.schema import CodeQuestion
from tests.api.test_sessions_api import bank_question, right_answer, wrong_answer


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "every form carries a CSRF token"
    return match.group(1)


def start_practice(client: TestClient, **filters: str) -> str:
    page = client.get("/topics/birnn/practice")
    response = client.post(
        "/topics/birnn/practice",
        data={"csrf_token": csrf(page.text), **filters},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return response.headers["location"]


def question_id_on(client: TestClient, html: str) -> str:
    """Which bank question the page shows, by its prompt."""
    return bank_question(client, html).id


def as_form(value: object) -> list[str] | str:
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return ", ".join(map(str, value))
    return [str(v) for v in value] if isinstance(value, list) else str(value)


def test_home_and_topic_pages_list_modes(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200 and "Bidirectional RNNs in PyTorch" in home.text
    topic = client.get("/topics/birnn")
    for mode in ("Learn", "Practice", "Test", "Review mistakes"):
        assert f'<span class="mode-title">{mode}</span>' in topic.text
    learn = client.get("/topics/birnn/learn")
    assert 'class="notes"' in learn.text and "<h2>" in learn.text


def test_practice_page_shows_counter_badge_and_hints(client: TestClient) -> None:
    location = start_practice(client, difficulty="hard")
    page = client.get(location)
    total = len(
        [
            q
            for q in client.get("/api/v1/topics/birnn/questions?difficulty=hard&limit=100").json()[
                "items"
            ]
        ]
    )
    assert f"1 / {total}" in page.text
    assert "badge-hard" in page.text and ">Hard<" in page.text
    assert "Show hint 1" in page.text


def test_practice_answer_wrong_then_right_without_javascript(client: TestClient) -> None:
    location = start_practice(client)
    page = client.get(location)
    question = bank_question(client, page.text)
    token = csrf(page.text)

    wrong = client.post(
        location, data={"csrf_token": token, "answer": as_form(wrong_answer(question))}
    )
    assert wrong.status_code == 200 and "?answer=" in str(wrong.url)
    assert "<strong>Incorrect.</strong>" in wrong.text or "Partly correct" in wrong.text
    if question.type == "code":  # its solution waits for a right answer, or a request
        assert "Show solution" in wrong.text and "Solution, step by step" not in wrong.text
    else:
        assert "Solution, step by step" in wrong.text and "Common mistakes" in wrong.text

    right = client.post(
        location, data={"csrf_token": token, "answer": as_form(right_answer(question))}
    )
    assert "<strong>Correct.</strong>" in right.text


def test_unreadable_answer_is_shown_again_with_the_message(client: TestClient) -> None:
    location = start_practice(client, tag="shapes")
    for _ in range(30):
        page = client.get(location)
        if "torch.Size" in page.text and 'id="answer-input"' in page.text:
            break
        location = re.sub(r"/(\d+)$", lambda m: f"/{int(m.group(1)) + 1}", location)
    else:
        raise AssertionError("no tensor shape question in the shapes practice")
    response = client.post(location, data={"csrf_token": csrf(page.text), "answer": "abc"})
    assert response.status_code == 422
    assert 'role="alert"' in response.text and "did not count as an attempt" in response.text
    assert 'aria-invalid="true"' in response.text and 'value="abc"' in response.text
    assert client.get("/api/v1/progress").json()["items"][0]["answers"] == 0


def test_form_without_valid_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/")
    response = client.post("/topics/birnn/test", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert "expired" in response.text


def test_csrf_token_of_another_learner_is_refused(
    client: TestClient, other_client: TestClient
) -> None:
    token = csrf(other_client.get("/topics/birnn/test").text)
    client.get("/")
    assert client.post("/topics/birnn/test", data={"csrf_token": token}).status_code == 403


def test_full_test_through_forms(client: TestClient) -> None:
    page = client.get("/topics/birnn/test")
    started = client.post("/topics/birnn/test", data={"csrf_token": csrf(page.text)})
    assert re.search(r"/tests/[0-9a-f-]+/1$", str(started.url))
    url = str(started.url)
    for position in range(1, 11):
        page = client.get(url)
        assert f"{position} / 10" in page.text
        question = bank_question(client, page.text)
        go = "finish" if position == 10 else "next"
        response = client.post(
            url,
            data={
                "csrf_token": csrf(page.text),
                "answer": as_form(right_answer(question)),
                "go": go,
            },
        )
        url = str(response.url)
    assert url.endswith("/summary")  # the last check before finishing
    assert "10 of 10 questions answered" in response.text
    finish = re.search(r'<form method="post" action="([^"]+/finish)"', response.text)
    assert finish is not None
    response = client.post(finish.group(1), data={"csrf_token": csrf(response.text)})
    assert str(response.url).endswith("/result")
    assert "You scored <strong>10 of 10</strong>" in response.text
    assert response.text.count('class="review-item"') == 10


def test_skipping_a_test_question_saves_nothing(client: TestClient) -> None:
    page = client.get("/topics/birnn/test")
    started = client.post("/topics/birnn/test", data={"csrf_token": csrf(page.text)})
    response = client.post(str(started.url), data={"csrf_token": csrf(started.text), "go": "next"})
    assert response.status_code == 200 and str(response.url).endswith("/2")
    assert "0 of 10 answered" in response.text


def test_error_pages_are_html_for_browsers(client: TestClient) -> None:
    response = client.get("/topics/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no topic &#39;nope&#39;" in response.text or "no topic 'nope'" in response.text


def test_feedback_of_another_question_is_not_shown(client: TestClient) -> None:
    location = start_practice(client)
    page = client.get(location)
    answer = as_form(wrong_answer(bank_question(client, page.text)))
    response = client.post(location, data={"csrf_token": csrf(page.text), "answer": answer})
    answer_id = re.search(r"answer=(\d+)", str(response.url))
    assert answer_id, "a practice answer redirects to its feedback"
    other_question = re.sub(r"/1$", "/2", location)
    assert client.get(f"{other_question}?answer={answer_id.group(1)}").status_code == 404


def test_practising_mistakes_from_the_review_page(client: TestClient) -> None:
    location = start_practice(client)
    page = client.get(location)
    question = bank_question(client, page.text)
    client.post(
        location, data={"csrf_token": csrf(page.text), "answer": as_form(wrong_answer(question))}
    )
    review = client.get("/topics/birnn/mistakes")
    assert "1 question whose latest answer was wrong" in review.text
    started = client.post("/topics/birnn/mistakes", data={"csrf_token": csrf(review.text)})
    assert "1 / 1" in started.text and "your mistakes" in started.text
    assert question_id_on(client, started.text) == question.id


def test_moving_through_a_test_does_not_save_untouched_starter_code(client: TestClient) -> None:
    for _ in range(20):  # a test draws its questions at random: find one with a code question
        page = client.get("/topics/birnn/test")
        url = str(client.post("/topics/birnn/test", data={"csrf_token": csrf(page.text)}).url)
        base = url.rsplit("/", 1)[0]
        for position in range(1, 11):
            page = client.get(f"{base}/{position}")
            question = bank_question(client, page.text)
            if isinstance(question, CodeQuestion):
                break
        else:  # finished, so the next start draws anew (an open test is resumed)
            client.post(f"{base}/finish", data={"csrf_token": csrf(page.text)})
            continue
        form = {"csrf_token": csrf(page.text), "go": "next"}
        as_sent = question.starter.replace("\n", "\r\n")  # a browser sends CRLF line breaks
        untouched = client.post(f"{base}/{position}", data={**form, "answer": as_sent})
        assert "saved=" not in str(untouched.url)
        assert "0 of 10 answered" in untouched.text
        edited = client.post(f"{base}/{position}", data={**form, "answer": question.solution_code})
        assert f"saved={position}" in str(edited.url)
        assert "1 of 10 answered" in edited.text
        return
    raise AssertionError("no test drew a code question in 20 tries")


def test_run_it_says_in_words_how_the_code_ended(client: TestClient) -> None:
    location = start_practice(client)
    session_id = location.split("/")[-2]
    questions = client.get(f"/api/v1/sessions/{session_id}").json()["total"]
    shown = (
        client.get(f"/api/v1/sessions/{session_id}/questions/{n}").json()["question"]
        for n in range(1, questions + 1)
    )
    # A question that shows code, so its page has "Run it" (a code question has Run instead).
    position = next(n for n, q in enumerate(shown, start=1) if q["snippet"] and q["type"] != "code")
    page = client.get(f"/practice/{session_id}/{position}")
    run = f"/practice/{session_id}/{position}/run"
    for code, words in (
        ("import sys\nsys.exit(3)", "Ended with exit code 3"),
        ("name = input()", "gets no keyboard input"),
        ("def f():\n    return f()\nf()", "more times]"),
    ):
        response = client.post(run, data={"csrf_token": csrf(page.text), "code": code})
        assert response.status_code == 200
        assert words in response.text, code
