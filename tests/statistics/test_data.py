"""The one query and the matrix over real rows: the figures of an assignment's attempts, on
both databases, against app.statistics.items.quiz_statistics on the matrix written by hand.

The fixture is test_items' matrix with every question worth 1 mark: 6 learners, 4 single
choice questions, one submitted attempt each; a 1 is the right letter, a 0 a wrong one.
"""

import math
import statistics

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.questions.models import QuestionVersion
from app.statistics.items import quiz_statistics
from app.statistics.service import QuestionReport, compute
from tests.assignments.support import make_assignment, make_class
from tests.statistics.support import (
    Given,
    choice,
    parameterised,
    shipped,
    submitted,
)
from tests.statistics.test_items import SCORES


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-9)


def _fixture(app, db: Session, learners: int = 6):  # type: ignore[no-untyped-def]
    catalog = app.state.catalog
    group = make_class(db, learners=learners)
    assignment = make_assignment(db, catalog, group.course)
    questions = shipped(catalog, "single_choice", 4)
    people = [group.learner_of(db, user) for user in group.learners]
    return group, assignment, questions, people


def _sit(db: Session, assignment, questions, people) -> None:  # type: ignore[no-untyped-def]
    for learner, row in zip(people, SCORES, strict=True):
        submitted(
            db, assignment, learner, [choice(q, s) for q, s in zip(questions, row, strict=True)]
        )


def _by_slug(reports: list[QuestionReport], slug: str) -> QuestionReport:
    return next(r for r in reports if r.slug == slug)


def test_the_figures_equal_quiz_statistics_on_the_same_matrix(app, db: Session) -> None:
    _group, assignment, questions, people = _fixture(app, db)
    _sit(db, assignment, questions, people)
    stats = compute(db, assignment, "first")
    expected = quiz_statistics(SCORES, [1, 1, 1, 1])
    assert stats.test.n == 6 and len(stats.questions) == 4
    for question, hand in zip(questions, expected.questions, strict=True):
        got = _by_slug(stats.questions, question.slug).figures
        assert got.n == 6
        for name in ("facility", "standard_deviation", "effective_weight",
                     "discrimination_index", "discriminative_efficiency"):  # fmt: skip
            mine, theirs = getattr(got, name), getattr(hand, name)
            assert (mine.value is None) == (theirs.value is None), name
            if theirs.value is not None:
                assert mine.value == approx(theirs.value), name
        assert got.facility.interval == hand.facility.interval
        assert got.discrimination_index.interval == hand.discrimination_index.interval
        assert got.intended_weight == approx(1 / 4)
        assert got.random_guess_score is not None and 0 < got.random_guess_score < 1
    assert _by_slug(stats.questions, questions[0].slug).figures.facility.value == approx(5 / 6)
    for name in ("mean", "median", "standard_deviation", "skewness", "kurtosis",
                 "cronbach_alpha", "error_ratio", "standard_error"):  # fmt: skip
        assert getattr(stats.test, name).value == approx(getattr(expected.test, name).value)
    # Totals 4, 3, 2, 2, 1, 1 of 4 questions.
    assert stats.percents == [100, 75, 50, 50, 25, 25]


def test_only_each_learners_first_submitted_attempt_counts_unless_all_are_asked(
    app, db: Session
) -> None:
    _group, assignment, questions, people = _fixture(app, db)
    _sit(db, assignment, questions, people)
    again = [choice(q, 0) for q in questions]
    submitted(db, assignment, people[0], again, attempt=2, minutes=30)
    first, every = compute(db, assignment, "first"), compute(db, assignment, "all")
    assert (first.test.n, every.test.n) == (6, 7)
    q1 = questions[0].slug
    assert _by_slug(first.questions, q1).figures.facility.value == approx(5 / 6)
    assert _by_slug(every.questions, q1).figures.facility.value == approx(5 / 7)
    # Per learner, over every attempt: learner 0 got Q1 right, then wrong.
    learners = _by_slug(first.questions, q1).learners
    assert learners.learners == 6
    assert learners.first.value == approx(5 / 6)
    assert learners.last.value == approx(4 / 6)
    assert learners.best.value == approx(5 / 6)
    assert learners.attempts_per_learner.value == approx(7 / 6)


def test_staff_attempts_are_left_out(app, db: Session) -> None:
    group, assignment, questions, people = _fixture(app, db)
    _sit(db, assignment, questions, people)
    owner = group.learner_of(db, group.owner)
    submitted(db, assignment, owner, [choice(q, 1) for q in questions])
    assert compute(db, assignment, "all").test.n == 6


def test_practice_open_attempts_and_other_assignments_are_left_out(app, db: Session) -> None:
    group, assignment, questions, people = _fixture(app, db)
    _sit(db, assignment, questions, people)
    other = make_assignment(db, app.state.catalog, group.course, title="Other")
    all_right = [choice(q, 1) for q in questions]
    submitted(db, assignment, people[0], all_right, mode="practice")
    submitted(db, other, people[1], all_right)
    submitted(db, assignment, people[2], all_right, attempt=2, finished=False)
    stats = compute(db, assignment, "all")
    assert stats.test.n == 6
    assert _by_slug(stats.questions, questions[2].slug).figures.facility.value == approx(2 / 6)


def test_an_unanswered_drawn_question_is_zero_and_an_undrawn_one_is_absent(
    app, db: Session
) -> None:
    _group, assignment, questions, people = _fixture(app, db, learners=3)
    q0, q1, q2 = questions[:3]
    submitted(db, assignment, people[0], [choice(q0, 1), choice(q1, None)])
    submitted(db, assignment, people[1], [choice(q0, 1), choice(q2, 1)])
    submitted(db, assignment, people[2], [choice(q1, 1), choice(q2, 0)])
    stats = compute(db, assignment, "first")
    facility = {q.slug: (q.figures.n, q.figures.facility.value) for q in stats.questions}
    assert facility == {q0.slug: (2, 1.0), q1.slug: (2, 0.5), q2.slug: (2, 0.5)}
    assert sorted(stats.percents) == [50, 50, 100]
    assert stats.test.mean.value == approx(2 / 3)


def test_figures_are_split_by_question_version(app, db: Session) -> None:
    _group, assignment, questions, people = _fixture(app, db)
    q = questions[0]
    old = db.get(QuestionVersion, q.version_id)
    assert old is not None
    edited = QuestionVersion(
        question_id=old.question_id,
        number=old.number + 1,
        content_hash="edited-" + old.content_hash[:50],
        type=old.type,
        difficulty=old.difficulty,
        data=old.data,
        source_path=old.source_path,
    )
    db.add(edited)
    db.flush()
    for n, learner in enumerate(people):
        version = old.id if n < 2 else edited.id
        right = choice(q, 1)
        submitted(db, assignment, learner, [Given(version, 1.0 if n % 2 else 0.0, right.given)])
    stats = compute(db, assignment, "first")
    labels = sorted((r.label, r.figures.n) for r in stats.questions)
    assert labels == [(f"{q.slug} v{old.number}", 2), (f"{q.slug} v{old.number + 1}", 4)]


def test_a_parameterised_question_is_split_by_variant(app, db: Session) -> None:
    _group, assignment, _questions, people = _fixture(app, db, learners=4)
    question = parameterised(app.state.catalog)
    first, second = question.variant_ids[:2]
    for n, learner in enumerate(people):
        submitted(db, assignment, learner, [Given(first if n < 3 else second, 1.0, [4, 7, 6])])
    stats = compute(db, assignment, "first")
    seeds = db.execute(
        select(QuestionVersion.id, QuestionVersion.seed).where(
            QuestionVersion.id.in_([first, second])
        )
    ).all()
    seed_of = dict(seeds)
    got = sorted((r.seed, r.figures.n) for r in stats.questions)
    assert got == sorted([(seed_of[first], 3), (seed_of[second], 1)])
    assert all(f"variant {r.seed}" in r.label for r in stats.questions)


def test_the_most_common_wrong_answers_are_normalised_and_counted(app, db: Session) -> None:
    _group, assignment, _questions, people = _fixture(app, db, learners=6)
    text = shipped(app.state.catalog, "short_text")[0]
    shape = shipped(app.state.catalog, "tensor_shape")[0]
    answers = [
        (" Foo ", [4, 7]),
        ("foo", "(4, 7)"),
        ("FOO  bar", [4, 7]),
        ("foo bar", [2]),
        ("right", [1, 1]),
    ]
    for learner, (typed, dims) in zip(people, answers, strict=False):
        score = 1.0 if typed == "right" else 0.0
        submitted(db, assignment, learner, [Given(text.version_id, score, typed),
                                            Given(shape.version_id, score, dims)])  # fmt: skip
    stats = compute(db, assignment, "first")
    by_slug = {r.slug: [(w.answer, w.count) for w in r.wrong_answers] for r in stats.questions}
    assert by_slug[text.slug] == [("foo", 2), ("foo bar", 2)]
    assert by_slug[shape.slug] == [("(4, 7)", 3), ("(2,)", 1)]


def test_no_attempts_give_na_and_no_questions(app, db: Session) -> None:
    _group, assignment, _questions, _people = _fixture(app, db, learners=1)
    stats = compute(db, assignment, "first")
    assert stats.test.n == 0 and stats.questions == [] and stats.flags == []
    assert stats.test.mean.value is None and stats.test.cronbach_alpha.value is None


def test_one_attempt_and_everyone_right_give_na_not_nan(app, db: Session) -> None:
    _group, assignment, questions, people = _fixture(app, db, learners=3)
    submitted(db, assignment, people[0], [choice(q, 1) for q in questions])
    one = compute(db, assignment, "first")
    assert one.test.n == 1 and one.test.mean.value == approx(1)
    assert one.test.standard_deviation.value is None
    assert all(q.figures.discrimination_index.value is None for q in one.questions)
    for learner in people[1:]:
        submitted(db, assignment, learner, [choice(q, 1) for q in questions])
    everyone = compute(db, assignment, "first")
    assert all(q.figures.facility.value == 1 for q in everyone.questions)
    assert everyone.test.cronbach_alpha.value is None
    assert all(o.point_biserial.value is None for q in everyone.questions for o in q.options)


def test_the_test_mean_carries_a_normal_interval(app, db: Session) -> None:
    _group, assignment, questions, people = _fixture(app, db)
    _sit(db, assignment, questions, people)
    mean = compute(db, assignment, "first").test.mean
    shares = [sum(row) / 4 for row in SCORES]
    half = 1.959963984540054 * statistics.stdev(shares) / math.sqrt(6)
    assert mean.interval is not None
    assert (mean.interval.low, mean.interval.high) == (
        approx(statistics.mean(shares) - half),
        approx(statistics.mean(shares) + half),
    )


def test_random_draws_of_one_length_read_alpha_by_position(app, db: Session) -> None:
    _group, assignment, questions, people = _fixture(app, db, learners=5)
    q0, q1, q2 = questions[:3]
    draws = [(q0, q1), (q1, q2), (q0, q2), (q2, q0), (q1, q0)]
    by_position = [[1, 1], [1, 0], [0, 0], [1, 0], [0, 1]]
    for learner, drawn, row in zip(people, draws, by_position, strict=True):
        submitted(db, assignment, learner, [choice(q, s) for q, s in zip(drawn, row, strict=True)])
    stats = compute(db, assignment, "first")
    expected = quiz_statistics(by_position, [1, 1]).test.cronbach_alpha.value
    assert expected is not None
    assert stats.test.cronbach_alpha.value == approx(expected)
    assert {q.slug: q.figures.n for q in stats.questions} == {q0.slug: 4, q1.slug: 3, q2.slug: 3}


def test_random_draws_of_different_lengths_give_alpha_na(app, db: Session) -> None:
    _group, assignment, questions, people = _fixture(app, db, learners=3)
    submitted(db, assignment, people[0], [choice(questions[0], 1)])
    submitted(db, assignment, people[1], [choice(questions[0], 0), choice(questions[1], 1)])
    submitted(db, assignment, people[2], [choice(questions[1], 1), choice(questions[2], 1)])
    stats = compute(db, assignment, "first")
    assert stats.test.cronbach_alpha.value is None
    assert sorted(stats.percents) == [50, 100, 100]
    assert stats.test.mean.value == approx(250 / 300)


def test_the_first_submitted_attempt_counts_when_an_earlier_one_is_still_open(
    app, db: Session
) -> None:
    _group, assignment, questions, people = _fixture(app, db, learners=1)
    submitted(db, assignment, people[0], [choice(q, 0) for q in questions], finished=False)
    submitted(db, assignment, people[0], [choice(q, 1) for q in questions], attempt=2)
    stats = compute(db, assignment, "first")
    assert stats.test.n == 1 and stats.percents == [100]
