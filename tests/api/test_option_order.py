"""Each attempt shows a choice question's options in an order of its own (app.attempts.order):
the key's place gives nothing away, the order holds across reloads, tabs, pages and the API,
and answers are graded and stored by the option chosen, not by its letter."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.attempts.models import Answer
from app.attempts.order import option_order, to_canonical, to_shown
from app.bank.grading import letter
from app.bank.schema import ChoiceQuestion, QuestionAdapter
from tests.api.test_sessions_api import bank_question, question_at, right_answer, start
from tests.bank.conftest import REAL_BANK
from tests.pages.test_pages_without_js import csrf

FIRST = {"mode": "practice", "difficulty": "easy"}


def first_choice_position(client: TestClient, session: dict[str, Any]) -> int:
    return next(
        p
        for p in range(1, session["total"] + 1)
        if question_at(client, session["id"], p)["question"]["type"] == "single_choice"
    )


def shown_texts(item: dict[str, Any]) -> list[str]:
    return [o["text"] for o in item["question"]["options"]]


def test_the_order_holds_across_reloads_and_the_page_shows_the_api_order(
    client: TestClient,
) -> None:
    session = start(client, **FIRST)
    position = first_choice_position(client, session)
    first = question_at(client, session["id"], position)
    assert shown_texts(question_at(client, session["id"], position)) == shown_texts(first)
    page = client.get(f"/practice/{session['id']}/{position}").text
    places = [page.index(o["text_html"]) for o in first["question"]["options"]]
    assert places == sorted(places)
    labels = [o["label"] for o in first["question"]["options"]]
    assert labels == [letter(n) for n in range(len(places))]


def test_the_keys_place_is_spread_evenly_over_many_attempts() -> None:
    """Over many learners' attempts (sessions) at a four-option question, the key is shown at
    each place about as often as at any other."""
    question = QuestionAdapter.validate_python(choice_file())
    assert isinstance(question, ChoiceQuestion)
    (key,) = question.correct_indexes()
    attempts, places = 2000, Counter[int]()
    for n in range(attempts):
        order = option_order(question, f"session-{n}", 3)
        assert order is not None
        places[order.index(key)] += 1
    options = len(question.options)
    expected = attempts / options
    sd = (expected * (1 - 1 / options)) ** 0.5  # binomial
    assert set(places) == set(range(options))
    assert all(abs(count - expected) < 4 * sd for count in places.values()), places


def test_the_api_shows_the_order_the_attempt_draws(client: TestClient) -> None:
    session = start(client, **FIRST)
    position = first_choice_position(client, session)
    item = question_at(client, session["id"], position)
    in_file = client.app.state.catalog.question(item["question"]["id"]).model  # type: ignore[attr-defined]
    order = option_order(in_file, session["id"], position)
    assert order is not None
    assert shown_texts(item) == [in_file.options[i].text for i in order]


def test_an_answer_is_graded_and_stored_by_the_option_chosen(
    client: TestClient, db: Session
) -> None:
    catalog = client.app.state.catalog  # type: ignore[attr-defined]
    for _ in range(20):  # until an attempt shows the key away from its place in the file
        session = start(client, **FIRST)
        position = first_choice_position(client, session)
        shown = bank_question(client, question_at(client, session["id"], position)["question"])
        in_file = catalog.question(shown.id).model
        key_in_file = letter(next(i for i, o in enumerate(in_file.options) if o.correct))
        answer = right_answer(shown)
        url = f"/api/v1/sessions/{session['id']}/answers"
        feedback = client.post(url, json={"position": position, "answer": answer}).json()
        assert feedback["correct"] is True and feedback["given"] == answer
        chosen = [o for o in feedback["solution"]["options"] if o["chosen"]]
        assert [(o["label"], o["correct"]) for o in chosen] == [(answer, True)]
        assert feedback["solution"]["correct_answer"] == answer
        stored = db.scalar(select(Answer.given).where(Answer.id == feedback["answer_id"]))
        assert stored == key_in_file
        if answer != key_in_file:
            return
    raise AssertionError("20 attempts all showed the key in its file's place")


def test_a_finished_tests_review_shows_each_attempts_order_and_choice(client: TestClient) -> None:
    session = start(client, mode="test")
    shown: dict[int, dict[str, Any]] = {}
    for position in range(1, session["total"] + 1):
        item = question_at(client, session["id"], position)
        if item["question"]["options"]:
            shown[position] = item
            question = bank_question(client, item["question"])
            url = f"/api/v1/sessions/{session['id']}/answers"
            client.post(url, json={"position": position, "answer": right_answer(question)})
    result = client.post(f"/api/v1/sessions/{session['id']}/finish").json()
    for review in result["review"]:
        if review["position"] in shown:
            before = shown[review["position"]]
            assert shown_texts(review) == shown_texts(before)
            assert review["correct"] is True
            chosen = {o["label"] for o in review["solution"]["options"] if o["chosen"]}
            given = review["given"] if isinstance(review["given"], list) else [review["given"]]
            assert chosen == set(given)


def test_a_saved_test_answer_comes_back_in_the_letters_shown(client: TestClient) -> None:
    session = start(client, mode="test")
    position = next(  # a test draws at random: its first question with options
        p
        for p in range(1, session["total"] + 1)
        if question_at(client, session["id"], p)["question"]["options"]
    )
    page = client.get(f"/tests/{session['id']}/{position}")
    answer = right_answer(bank_question(client, page.text))
    letters = answer if isinstance(answer, list) else [answer]
    form = {"csrf_token": csrf(page.text), "go": "stay", "answer": letters}
    client.post(f"/tests/{session['id']}/{position}", data=form)
    assert question_at(client, session["id"], position)["saved_answer"] == answer
    again = client.get(f"/tests/{session['id']}/{position}").text
    for shown in letters:
        control = again.split(f'id="option-{shown}"', 1)[1].split(">", 1)[0]
        assert "checked" in control


def choice_file() -> dict[str, Any]:
    import yaml

    for path in sorted((REAL_BANK / "birnn").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("type") == "single_choice":
            return data  # type: ignore[no-any-return]
    raise AssertionError("no single_choice question in the bank")


def test_a_question_can_pin_its_order() -> None:
    data = copy.deepcopy(choice_file()) | {"shuffle": False}
    pinned = QuestionAdapter.validate_python(data)
    assert option_order(pinned, "any-session", 1) is None
    shuffled = QuestionAdapter.validate_python(data | {"shuffle": True})
    orders = {option_order(shuffled, f"session-{n}", 1) for n in range(50)}
    assert len(orders) > 1


def test_a_shuffled_question_may_not_name_an_option_by_its_letter() -> None:
    data = copy.deepcopy(choice_file())
    data["options"][0]["feedback"] = "Unlike option B, this keeps the batch first."
    with pytest.raises(ValidationError, match="shuffle: false"):
        QuestionAdapter.validate_python(data)
    assert QuestionAdapter.validate_python(data | {"shuffle": False})


def test_letters_map_both_ways_and_leave_what_is_not_a_letter_to_grading() -> None:
    order = (2, 0, 3, 1)  # shown A is the file's C, ...
    assert to_canonical("a", order) == "C"
    assert to_canonical(["B", "D"], order) == ["A", "B"]
    assert to_canonical("Z", order) == "Z" and to_canonical(3, order) == 3
    assert to_shown("C", order) == "A"
    assert to_shown(["A", "B"], order) == ["B", "D"]
    assert [letter(i) for i in order] == [to_canonical(s, order) for s in "ABCD"]
