"""The order practice asks its questions in, from the learner's history: pure functions (the
history is read by app.attempts.history; a test's draw is its assignment's, app.assignments).

Practice asks first what the learner has not yet answered right, then what they answered right
longest ago; questions alike in that come in an order of the session's own. A test prefers
questions the learner has not just met in practice (`just_met`), so it measures what stuck
rather than what was on screen a minute ago.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta

from app.attempts.history import GradedAnswer
from app.questions.catalog import CatalogQuestion

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
