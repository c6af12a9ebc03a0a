"""The real bank spreads a test over many ideas: no single rule fills a drawn test.

Questions that turn on the layout of the hidden and cell states ((num_layers x num_directions,
batch, hidden), and `batch_first` does not apply to them) carry the tag `state-layout`. The bank
once held eleven of them, and a drawn test held three or more half the time."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from app.attempts.drawing import draw_questions, pool_of
from app.attempts.rules import default_test
from app.bank.loader import LoadedTopic, load_bank
from app.questions.catalog import CatalogQuestion, CatalogTopic

REAL_BANK = Path(__file__).resolve().parents[2] / "questions"
RULE_TAG = "state-layout"
MOST_TAGGED = 4
# A drawn test may hold three of them by chance, but rarely: in at most this share of draws.
MOST_CROWDED_SHARE = 0.05
DRAWS = 2000


@pytest.fixture(scope="module")
def topic() -> LoadedTopic:
    return load_bank(REAL_BANK).topics["birnn"]


def catalog_topic(topic: LoadedTopic) -> CatalogTopic:
    """The topic as the server's catalog holds it (ids and positions in file order), without
    a database: drawing reads only slugs, difficulties and positions."""
    questions = tuple(
        CatalogQuestion(id=i, slug=q.question.id, version_id=i, position=i, model=q.question)
        for i, q in enumerate(topic.questions, start=1)
    )
    return CatalogTopic(id=1, slug=topic.slug, topic=topic.topic, questions=questions)


def tagged(topic: LoadedTopic) -> list[str]:
    return sorted(q.question.id for q in topic.questions if RULE_TAG in q.question.tags)


def test_the_bank_holds_at_most_four_questions_on_the_state_layout_rule(
    topic: LoadedTopic,
) -> None:
    found = tagged(topic)
    assert found, f"no question is tagged {RULE_TAG!r}, so this test would check nothing"
    assert len(found) <= MOST_TAGGED, (
        f"{len(found)} questions turn on the state-layout rule (keep the best {MOST_TAGGED}, "
        "and write the others on concepts the bank does not test yet): " + ", ".join(found)
    )


def test_a_drawn_test_rarely_holds_more_than_two_state_layout_questions(
    topic: LoadedTopic,
) -> None:
    rule = set(tagged(topic))
    pool, rules = pool_of([catalog_topic(topic)]), default_test(topic.slug)
    crowded = 0
    for seed in range(DRAWS):
        drawn = draw_questions(pool, rules, random.Random(seed))
        assert len(drawn) == rules.size
        crowded += len({q.slug for q in drawn} & rule) > 2
    assert crowded / DRAWS <= MOST_CROWDED_SHARE, (
        f"{crowded} of {DRAWS} drawn tests hold three or more of {sorted(rule)}"
    )
