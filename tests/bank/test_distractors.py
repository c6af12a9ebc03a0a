"""Nothing gives the answer away: in the real bank, a choice question's key cannot be found by
its length alone. A learner who always picks the longest option (or the shortest) must do no
better than one who guesses.

Length is the characters of an option's `text`, as the author wrote it (surrounding whitespace
stripped by the schema)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.bank.loader import load_bank
from app.bank.schema import MultipleSelect, SingleChoice

REAL_BANK = Path(__file__).resolve().parents[2] / "questions"
Pick = Callable[[list[int]], int]  # max or min
Choice = SingleChoice | MultipleSelect

# A key a fifth longer than every distractor already stands out in a list of options; a tenth
# is the ordinary spread of wording. Short options (shapes such as "(2, 8, 32)", argument names)
# may differ by a few characters without any hint, so up to SLACK characters more are allowed.
RATIO = 1.2
SLACK = 10


@pytest.fixture(scope="module")
def choice_questions() -> list[Choice]:
    bank = load_bank(REAL_BANK)
    found = [
        q.question
        for topic in bank.topics.values()
        for q in topic.questions
        if isinstance(q.question, SingleChoice | MultipleSelect)
    ]
    assert found, "the bank has no choice questions, so these tests would check nothing"
    return found


def lengths(question: Choice) -> tuple[list[int], list[int]]:
    """The lengths of the keys and of the distractors."""
    keys = [len(o.text) for o in question.options if o.correct]
    distractors = [len(o.text) for o in question.options if not o.correct]
    return keys, distractors


def picks_the_key(question: Choice, pick: Pick) -> bool:
    """Whether the one option that is strictly the longest (pick=max) or strictly the shortest
    (pick=min) is a key. A tie for the extreme singles out no option, so it counts as no."""
    sizes = [len(o.text) for o in question.options]
    extreme = pick(sizes)
    if sizes.count(extreme) > 1:
        return False
    return question.options[sizes.index(extreme)].correct


def test_no_key_is_noticeably_longer_than_the_longest_distractor(
    choice_questions: list[Choice],
) -> None:
    """Every key (each correct option of a multiple_select question too) is at most RATIO
    times as long as the longest distractor, or at most SLACK characters longer."""
    offenders = []
    for question in choice_questions:
        keys, distractors = lengths(question)
        if not distractors:  # every option is right: there is no distractor to compare with
            continue
        longest = max(distractors)
        allowed = max(RATIO * longest, longest + SLACK)
        offenders += [
            f"{question.id}: key of {key} characters, longest distractor {longest} "
            f"({key / longest:.2f}x)"
            for key in keys
            if key > allowed
        ]
    assert not offenders, (
        "write the distractors as concretely as the key, or tighten the key:\n  "
        + "\n  ".join(offenders)
    )


@pytest.mark.parametrize("pick", [max, min], ids=["longest", "shortest"])
@pytest.mark.parametrize("kind", ["single_choice", "multiple_select"])
def test_picking_the_longest_or_shortest_option_finds_a_key_no_more_often_than_chance(
    choice_questions: list[Choice], kind: str, pick: Pick
) -> None:
    """Over the bank's questions of one type, the strictly longest (or shortest) option is a key
    in no more questions than a blind pick would be: the sum over questions of keys / options,
    a quarter of them for four-option single_choice questions.

    A bank whose lengths carry no hint sits around that number by chance and may land a little
    above it; but then "pick the longest" beats guessing in this bank, which is what learners
    see, so the bank is rebalanced until it does not. The shortest option is held to the same
    bound, so that shortening keys does not turn one giveaway into its mirror image."""
    questions = [q for q in choice_questions if q.type == kind]
    if not questions:
        pytest.skip(f"the bank has no {kind} questions")
    hits = sorted(q.id for q in questions if picks_the_key(q, pick))
    chance = sum(len(q.correct_indexes()) / len(q.options) for q in questions)
    assert len(hits) <= chance, (
        f"the {'longest' if pick is max else 'shortest'} option is a key in {len(hits)} of "
        f"{len(questions)} {kind} questions; guessing would find one in {chance:.1f}: "
        + ", ".join(hits)
    )
