"""Which questions a session asks, and in what order, from the learner's history: pure
functions (the history is read by app.attempts.history).

Practice asks first what the learner has not yet answered right, then what they answered right
longest ago; questions alike in that come in an order of the session's own. A test draws its mix
by difficulty, preferring questions the learner has not just met in practice, so it measures
what stuck rather than what was on screen a minute ago.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta

from app.attempts.history import GradedAnswer
from app.bank.schema import Difficulty
from app.questions.catalog import CatalogQuestion, CatalogTopic
from app.questions.service import filter_questions

# A test draws 3 easy, 4 medium and 3 hard questions (topped up from other levels if short).
TEST_MIX = {Difficulty.easy: 3, Difficulty.medium: 4, Difficulty.hard: 3}
# Practised this recently, a question is "just met": a test draws it only when it must.
JUST_MET = timedelta(hours=12)


def practice_order(
    questions: Iterable[CatalogQuestion], history: list[GradedAnswer], rng: random.Random
) -> list[CatalogQuestion]:
    """`history`: oldest first (graded_answers), so each question's latest answer wins."""
    latest = {a.slug: a for a in history}
    order = list(questions)
    rng.shuffle(order)

    def due(question: CatalogQuestion) -> tuple[int, float]:
        answer = latest.get(question.slug)
        if answer is None or not answer.correct:
            return (0, 0.0)
        return (1, answer.at.timestamp())  # answered right: longest ago first

    return sorted(order, key=due)  # a stable sort: the shuffle orders equals


def just_met(history: list[GradedAnswer], now: datetime) -> set[str]:
    return {a.slug for a in history if a.mode == "practice" and now - a.at < JUST_MET}


def draw_test(
    topic: CatalogTopic, rng: random.Random, avoid: set[str] | frozenset[str] = frozenset()
) -> list[CatalogQuestion]:
    """The test's questions in the bank's order; those in `avoid` only where a level, then the
    whole topic, has too few others."""
    picked: list[CatalogQuestion] = []
    for difficulty, count in TEST_MIX.items():
        picked += _draw(filter_questions(topic, difficulty=difficulty), count, rng, avoid)
    rest = [q for q in topic.questions if q not in picked]
    picked += _draw(rest, sum(TEST_MIX.values()) - len(picked), rng, avoid)
    return sorted(picked, key=lambda q: q.position)


def _draw(
    pool: list[CatalogQuestion], count: int, rng: random.Random, avoid: set[str] | frozenset[str]
) -> list[CatalogQuestion]:
    fresh = [q for q in pool if q.slug not in avoid]
    met = [q for q in pool if q.slug in avoid]
    drawn = rng.sample(fresh, min(count, len(fresh)))
    return drawn + rng.sample(met, min(count - len(drawn), len(met)))
