"""An assignment's rules and the decisions they make: pure, with no database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from app.attempts import rules as r
from app.attempts.drawing import draw_questions, learner_random, pick_variants, pool_of
from app.attempts.rules import AssignmentRules
from app.bank.schema import Difficulty
from app.core.errors import AppError
from app.questions.catalog import CatalogQuestion, CatalogTopic

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Model:
    """Just what drawing reads of a question: its difficulty and tags."""

    def __init__(self, difficulty: str, tags: tuple[str, ...]) -> None:
        self.difficulty = Difficulty(difficulty)
        self.tags = list(tags)


def question(n: int, difficulty: str, *tags: str, variants: tuple[int, ...] = ()) -> Any:
    return CatalogQuestion(
        n,
        f"q{n}",
        100 + n,
        n,
        Model(difficulty, tags),
        variant_ids=variants,  # type: ignore[arg-type]
    )


# A topic of 12: 4 easy (two tagged packing), 4 medium, 4 hard.
TOPIC = CatalogTopic(
    1,
    "t",
    None,  # type: ignore[arg-type]
    tuple(
        question(n, ("easy", "medium", "hard")[n // 4], *(("packing",) if n in (0, 1) else ()))
        for n in range(12)
    ),
)
POOL = pool_of([TOPIC])


def rules(**changes: Any) -> AssignmentRules:
    return AssignmentRules.model_validate({"sources": ["t"], **changes})


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({}, "name fixed questions or add a draw"),
        ({"draws": [{"count": 1}], "opens_at": NOON, "closes_at": NOON}, "after opens_at"),
        ({"draws": [{"count": 1}], "late_until": NOON}, "late_until needs late: penalty"),
        (
            {"draws": [{"count": 1}], "late": "penalty", "closes_at": NOON, "late_until": NOON},
            "late_until must come after closes_at",
        ),
        ({"draws": [{"count": 1}], "feedback": "after_close"}, "needs closes_at"),
        ({"draws": [{"count": 60}, {"count": 60}]}, "at most 100 questions"),
        ({"questions": ["no-slash"]}, "String should match pattern"),
        ({"draws": [{"count": 0}]}, "greater than or equal to 1"),
        ({"draws": [{"count": 1}], "opens_at": "2026-12-01T12:00"}, "timezone"),
        ({"draws": [{"count": 1}], "surprise": True}, "Extra inputs"),
    ],
)
def test_rules_that_contradict_themselves_are_refused_in_words(
    changes: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        rules(**changes)
    assert words in str(refused.value)


def test_the_deadline_is_the_time_limit_or_the_last_submission_whichever_comes_first() -> None:
    timed = rules(draws=[{"count": 1}], time_limit_minutes=30)
    assert r.deadline(timed, NOON) == NOON + timedelta(minutes=30)
    closing = rules(
        draws=[{"count": 1}], time_limit_minutes=30, closes_at=NOON + timedelta(minutes=10)
    )
    assert r.deadline(closing, NOON) == NOON + timedelta(minutes=10)
    late = rules(
        draws=[{"count": 1}],
        closes_at=NOON,
        late="penalty",
        late_until=NOON + timedelta(hours=1),
    )
    assert r.deadline(late, NOON) == NOON + timedelta(hours=1)  # late work runs to the cut-off
    assert r.deadline(rules(draws=[{"count": 1}]), NOON) is None


def test_a_new_attempt_is_refused_before_opening_after_closing_and_past_the_allowance() -> None:
    window = rules(
        draws=[{"count": 1}],
        opens_at=NOON,
        closes_at=NOON + timedelta(days=1),
        attempts_allowed=2,
    )
    assert "opens at 2026-12-01T12:00" in (r.closed_reason(window, NOON - timedelta(1)) or "")
    assert r.closed_reason(window, NOON, used=1) is None
    assert r.closed_reason(window, NOON, used=2) == "no attempts left: 2 of 2 used"
    assert "closed at" in (r.closed_reason(window, NOON + timedelta(days=1)) or "")


def test_a_late_attempt_loses_its_penalty_and_only_a_late_one() -> None:
    late = rules(
        draws=[{"count": 1}],
        closes_at=NOON,
        late="penalty",
        late_penalty_percent=20,
    )
    assert r.grade_percent(late, 80.0, NOON) == 80.0
    assert r.grade_percent(late, 80.0, NOON + r.GRACE) == 80.0  # an answer in flight
    assert r.grade_percent(late, 80.0, NOON + timedelta(minutes=1)) == 64.0
    refused = rules(draws=[{"count": 1}], closes_at=NOON)
    assert r.grade_percent(refused, 80.0, NOON + timedelta(minutes=1)) == 80.0


@pytest.mark.parametrize(
    ("feedback", "before_close", "after_close"),
    [
        ("immediately", True, True),
        ("after_submission", True, True),
        ("after_close", False, True),
        ("never", False, False),
    ],
)
def test_the_review_shows_when_the_feedback_rule_says(
    feedback: str, before_close: bool, after_close: bool
) -> None:
    timed = rules(draws=[{"count": 1}], feedback=feedback, closes_at=NOON)
    assert r.review_visible(timed, NOON - timedelta(minutes=1)) is before_close
    assert r.review_visible(timed, NOON) is after_close
    assert (r.review_note(timed, NOON - timedelta(minutes=1)) is None) is before_close


def test_draws_take_their_difficulty_and_tag_after_the_fixed_questions() -> None:
    chosen = draw_questions(
        POOL,
        rules(
            questions=["t/q11"],
            draws=[
                {"count": 2, "difficulty": "easy", "tag": "packing"},
                {"count": 3, "difficulty": "medium"},
            ],
        ),
        random.Random(3),
    )
    assert chosen[0].slug == "q11"  # fixed first
    assert {q.slug for q in chosen[1:3]} == {"q0", "q1"}  # the only tagged easy ones
    assert all(q.difficulty == Difficulty.medium for q in chosen[3:])
    assert len(chosen) == 6 and len({q.id for q in chosen}) == 6


def test_a_short_draw_is_topped_up_from_the_whole_pool_preferring_fresh_questions() -> None:
    topped = rules(draws=[{"count": 9, "difficulty": "easy"}], top_up_to=10)
    chosen = draw_questions(POOL, topped, random.Random(1), avoid={"q5", "q6"})
    assert len(chosen) == 10  # 4 easy, then 6 more from the 8 others
    assert sum(q.difficulty == Difficulty.easy for q in chosen) == 4
    assert not {"q5", "q6"} & {q.slug for q in chosen}  # six fresh ones were there
    assert [q.position for q in chosen] == sorted(q.position for q in chosen)  # bank order


def test_a_fixed_question_outside_the_sources_is_refused_by_name() -> None:
    with pytest.raises(AppError) as refused:
        draw_questions(POOL, rules(questions=["t/nope"]), random.Random(1))
    assert refused.value.field == "questions" and "t/nope" in refused.value.message


def test_a_shuffled_order_is_the_learners_own_and_the_same_on_every_attempt() -> None:
    shuffled = rules(questions=[f"t/q{n}" for n in range(12)], shuffle_questions=True)

    def order(learner: str, attempt_seed: int) -> list[str]:
        mine = learner_random("assignment", learner)
        chosen = draw_questions(POOL, shuffled, random.Random(attempt_seed), order_rng=mine)
        return [q.slug for q in chosen]

    assert order("ada", 1) == order("ada", 2)
    assert order("ada", 1) != order("grace", 1)
    assert sorted(order("ada", 1)) == sorted(f"q{n}" for n in range(12))
    plain = rules(questions=["t/q3", "t/q1"])
    assert [q.slug for q in draw_questions(POOL, plain, random.Random(1))] == ["q3", "q1"]


def test_a_variant_per_learner_is_the_same_on_every_attempt_and_differs_between_learners() -> None:
    many = [question(1, "easy", variants=tuple(range(500, 520)))]
    seen = {
        learner: {pick_variants(many, random.Random(s), f"a/{learner}")[0] for s in range(5)}
        for learner in ("ada", "grace", "alan", "kathleen")
    }
    assert all(len(variants) == 1 for variants in seen.values())
    assert len(set.union(*seen.values())) > 1
    fresh = {pick_variants(many, random.Random(s), None)[0] for s in range(20)}
    assert len(fresh) > 1  # without the rule, each attempt draws anew
