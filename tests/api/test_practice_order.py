"""Practice asks first what the learner has not answered right, then what they answered right
longest ago, in an order of each session's own; a test prefers what was not just practised
(app.attempts.drawing)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from app.attempts.drawing import draw_questions, just_met, pool_of, practice_order
from app.attempts.history import GradedAnswer
from app.attempts.rules import default_test
from tests.api.test_sessions_api import bank_question, question_at, right_answer, start

EASY = {"mode": "practice", "difficulty": "easy"}
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def asked(client: TestClient, session: dict[str, object]) -> list[str]:
    total = int(session["total"])  # type: ignore[call-overload]
    return [
        question_at(client, str(session["id"]), p)["question"]["id"] for p in range(1, total + 1)
    ]


def answered(slug: str, correct: bool, minutes_ago: float, mode: str = "practice") -> GradedAnswer:
    return GradedAnswer(slug, "easy", correct, "A", NOW - timedelta(minutes=minutes_ago), mode)


def test_what_was_answered_right_comes_last_in_the_next_practice(client: TestClient) -> None:
    session = start(client, **EASY)
    first = question_at(client, session["id"], 1)
    question = bank_question(client, first["question"])
    url = f"/api/v1/sessions/{session['id']}/answers"
    assert client.post(url, json={"position": 1, "answer": right_answer(question)}).json()[
        "correct"
    ]
    again = asked(client, start(client, **EASY))
    assert again[-1] == question.id
    assert sorted(again) == sorted(asked(client, session))  # the same questions, reordered


def test_two_learners_meet_the_questions_in_orders_of_their_own(
    client: TestClient, other_client: TestClient
) -> None:
    assert asked(client, start(client, **EASY)) != asked(other_client, start(other_client, **EASY))


def test_the_order_puts_unanswered_and_wrong_first_then_right_longest_ago_first() -> None:
    class Q:
        def __init__(self, slug: str) -> None:
            self.slug = slug

    questions = [Q(s) for s in "abcdef"]
    history = [
        answered("a", True, 10),  # right, a while ago
        answered("b", True, 60),  # right, longest ago
        answered("c", False, 5),  # wrong
        answered("d", True, 1),  # right, just now
        answered("e", True, 90),
        answered("e", False, 2),  # right once, then wrong: its latest answer counts
    ]
    order = [q.slug for q in practice_order(questions, history, random.Random(7))]  # type: ignore[arg-type]
    assert set(order[:3]) == {"c", "e", "f"}
    assert order[3:] == ["b", "a", "d"]


def test_a_test_draws_what_was_just_practised_only_when_it_must(client: TestClient) -> None:
    topic = client.app.state.catalog.topic("birnn")  # type: ignore[attr-defined]
    easy = [q for q in topic.questions if q.difficulty.value == "easy"]
    rules = default_test("birnn")
    easy_count = next(d.count for d in rules.draws if d.difficulty == easy[0].difficulty)
    practised = {q.slug for q in easy[:-easy_count]}  # leave exactly enough
    history = [answered(slug, True, 30) for slug in practised]
    avoid = just_met(history, NOW)
    assert avoid == practised
    pool = pool_of([topic])
    for seed in range(20):
        drawn = draw_questions(pool, rules, random.Random(seed), avoid=avoid)
        assert len(drawn) == rules.size
        assert not {q.slug for q in drawn} & practised
    everything = {q.slug for q in topic.questions}
    forced = draw_questions(pool, rules, random.Random(1), avoid=everything)
    assert len(forced) == rules.size  # nothing fresh: still a full test


def test_only_recent_practice_counts_as_just_met() -> None:
    history = [
        answered("old", True, 60 * 13),
        answered("recent", False, 30),
        answered("tested", True, 5, mode="test"),
    ]
    assert just_met(history, NOW) == {"recent"}


def test_a_test_started_after_practice_leaves_out_what_was_practised(client: TestClient) -> None:
    session = start(client, **EASY)
    practised = set()
    for position in (1, 2, 3):
        item = question_at(client, session["id"], position)
        question = bank_question(client, item["question"])
        url = f"/api/v1/sessions/{session['id']}/answers"
        client.post(url, json={"position": position, "answer": right_answer(question)})
        practised.add(question.id)
    for _ in range(5):
        assert not practised & set(asked(client, start(client, mode="test")))
