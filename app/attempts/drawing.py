"""Which questions a session asks, in what order, and which variant: pure functions (the
history is read by app.attempts.history).

Practice asks first what the learner has not yet answered right, then what they answered right
longest ago; questions alike in that come in an order of the session's own.

A test (an attempt at an assignment) asks its fixed questions first, in the order the rules
name them; then each draw takes its count at random among the pool's questions of its
difficulty and tag not yet taken, preferring those the learner has not just met in practice
(`just_met`, so a test measures what stuck rather than what was on screen a minute ago); then
the attempt is topped up from the whole pool. Drawn questions keep the bank's order unless the
rules shuffle, and then the order is the learner's own: the same on every attempt.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from app.attempts.history import GradedAnswer
from app.attempts.rules import AssignmentRules
from app.core.errors import AppError
from app.questions.catalog import CatalogQuestion, CatalogTopic

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


Pool = dict[str, CatalogQuestion]  # "topic/question" -> question, in the bank's order


def pool_of(topics: list[CatalogTopic]) -> Pool:
    return {f"{t.slug}/{q.slug}": q for t in topics for q in t.questions}


def learner_random(*parts: str) -> random.Random:
    """A generator of this learner's own (per assignment): stable, never shared."""
    seed = hashlib.sha256("/".join(parts).encode()).digest()
    return random.Random(seed)  # noqa: S311 - an order to show, not a secret


def draw_questions(
    pool: Pool,
    rules: AssignmentRules,
    rng: random.Random,
    *,
    avoid: Collection[str] = frozenset(),
    order_rng: random.Random | None = None,
) -> list[CatalogQuestion]:
    """`avoid`: question slugs to take last. `order_rng`: the learner's own, for a shuffle."""
    unknown = [ref for ref in rules.questions if ref not in pool]
    if unknown:
        raise AppError(f"no question {unknown[0]} among the sources", field="questions")
    fixed = [pool[ref] for ref in rules.questions]
    taken = {q.id for q in fixed}
    drawn: list[CatalogQuestion] = []
    for draw in rules.draws:
        matching = [
            q
            for q in pool.values()
            if q.id not in taken
            and (draw.difficulty is None or q.difficulty == draw.difficulty)
            and (draw.tag is None or draw.tag in q.model.tags)
        ]
        picked = _prefer_fresh(matching, draw.count, rng, avoid)
        taken.update(q.id for q in picked)
        drawn += picked
    short = (rules.top_up_to or 0) - len(fixed) - len(drawn)
    if short > 0:
        rest = [q for q in pool.values() if q.id not in taken]
        drawn += _prefer_fresh(rest, short, rng, avoid)
    place = {q.id: index for index, q in enumerate(pool.values())}
    chosen = fixed + sorted(drawn, key=lambda q: place[q.id])
    if rules.shuffle_questions:
        (order_rng or rng).shuffle(chosen)
    return chosen


def _prefer_fresh(
    candidates: list[CatalogQuestion], count: int, rng: random.Random, avoid: Collection[str]
) -> list[CatalogQuestion]:
    fresh = [q for q in candidates if q.slug not in avoid]
    met = [q for q in candidates if q.slug in avoid]
    picked = rng.sample(fresh, min(count, len(fresh)))
    return picked + rng.sample(met, min(count - len(picked), len(met)))


def pick_variants(
    questions: list[CatalogQuestion], rng: random.Random, learner_seed: str | None
) -> list[int]:
    """Each question's version: a variant drawn afresh, or with `learner_seed` the learner's
    own for that question (the same variant on every attempt, whatever else is drawn)."""
    return [
        q.pick_version(learner_random(learner_seed, q.slug) if learner_seed else rng)
        for q in questions
    ]
