"""The shared fixtures make a class and an assignment a learner can attempt."""

from sqlalchemy.orm import Session

from tests.assignments.support import attempt, make_assignment, make_class


def test_a_class_learner_attempts_an_assignment_of_four_questions(app, db: Session) -> None:  # type: ignore[no-untyped-def]
    group = make_class(db)
    assignment = make_assignment(db, app.state.catalog, group.course)
    session = attempt(db, app.state.catalog, assignment, group.learner_of(db, group.learners[0]))
    assert session.mode == "test" and len(session.version_ids) == 4
    assert session.assignment_id == assignment.id and session.attempt == 1
