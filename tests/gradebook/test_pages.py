"""The gradebook's pages: the table, the override form, the regrade's dry run and confirm,
and the audit log."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.gradebook.models import AuditEntry, GradeOverride
from tests.assignments.support import make_class
from tests.gradebook.support import add_data_viewer, fixed_assignment, publish_fix, sit


def _setup(app: FastAPI, db: Session, prefix: str):  # type: ignore[no-untyped-def]
    catalog = app.state.catalog
    group = make_class(db, learners=2, prefix=prefix)
    assignment = fixed_assignment(db, catalog, group.course, title="Week 2")
    learner = group.learner_of(db, group.learners[0])
    session = sit(db, catalog, assignment, learner, ["right", "right", "right", "wrong"])
    base = f"/courses/{group.course.slug}/assignments/{assignment.public_id}"
    return group, learner, session, base


def test_the_gradebook_page_shows_every_learner_and_each_question(
    app: FastAPI, db: Session
) -> None:
    group, _learner, session, base = _setup(app, db, "pg1")
    owner = group.visitor(app, db, group.owner)

    page = owner.client.get(f"{base}/gradebook")

    assert page.status_code == 200
    html = page.text
    assert "<caption>Results of 2 learners in Week 2." in html
    assert '<th scope="row">Learner 0</th>' in html and '<th scope="row">Learner 1</th>' in html
    assert f'href="{base}/attempts/{session.public_id}">Attempt 1 of Learner 0</a>: 75%' in html
    assert f'href="{base}/gradebook.csv"' in html and f'href="{base}/statistics"' in html
    assert "Score distribution per question" in html and "birnn/birnn-main-advantage" in html
    assert 'for="percent-' in html  # the owner may override
    viewer = group.visitor(app, db, add_data_viewer(db, group.course, "pg1-ta@example.org"))
    theirs = viewer.client.get(f"{base}/gradebook")
    assert theirs.status_code == 200 and 'for="percent-' not in theirs.text


def test_the_override_form_sets_and_removes_a_grade(app: FastAPI, db: Session) -> None:
    group, learner, _session, base = _setup(app, db, "pg2")
    owner = group.visitor(app, db, group.owner)
    url = f"{base}/overrides/{learner.public_id}"

    done = owner.form(url, {"percent": "95", "reason": "resubmitted on paper", "action": "set"})

    assert done.status_code == 303
    shown = owner.client.get(done.headers["location"])
    assert "Grade set." in shown.text and "95%: resubmitted on paper" in shown.text
    removed = owner.form(url, {"percent": "", "reason": "entered by mistake", "action": "remove"})
    assert removed.status_code == 303
    assert db.scalars(select(GradeOverride)).all() == []
    actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["grade.override", "grade.override.remove"]


def test_a_refused_override_form_names_the_problem_by_its_field(app: FastAPI, db: Session) -> None:
    group, learner, _session, base = _setup(app, db, "pg3")
    owner = group.visitor(app, db, group.owner)
    url = f"{base}/overrides/{learner.public_id}"

    blank = owner.form(url, {"percent": "80", "reason": " ", "action": "set"})
    high = owner.form(url, {"percent": "101", "reason": "bonus", "action": "set"})

    assert blank.status_code == 422
    assert f'id="reason-{learner.public_id}-problem">give a reason' in blank.text
    assert high.status_code == 422 and f'id="percent-{learner.public_id}-problem"' in high.text
    assert db.scalars(select(GradeOverride)).all() == []
    viewer = group.visitor(app, db, add_data_viewer(db, group.course, "pg3-ta@example.org"))
    refused = viewer.form(url, {"percent": "80", "reason": "because", "action": "set"})
    assert refused.status_code == 403


def test_the_regrade_page_shows_the_dry_run_then_applies_it(app: FastAPI, db: Session) -> None:
    group, _learner, session, base = _setup(app, db, "pg4")
    owner = group.visitor(app, db, group.owner)
    publish_fix(db, "birnn-main-advantage")

    page = owner.client.get(f"{base}/regrade")

    assert page.status_code == 200
    assert "This is a dry run" in page.text and "<td>75%</td>" in page.text
    assert "<td>50%</td>" in page.text  # its right answer to the fixed question is wrong now
    applied = owner.form(f"{base}/regrade", {"expected": _expected(page.text)})
    assert applied.status_code == 303
    assert "Regrade applied." in owner.client.get(applied.headers["location"]).text
    (entry,) = db.scalars(select(AuditEntry)).all()
    assert entry.target["attempt"] == session.public_id
    assert (entry.before, entry.after) == (75.0, 50.0)


def _expected(html: str) -> str:
    """The dry run's versions, as its confirm form carries them."""
    return html.split('name="expected" value="')[1].split('"')[0].replace("&#34;", '"')


def test_a_stale_regrade_confirm_shows_the_new_dry_run(app: FastAPI, db: Session) -> None:
    group, _learner, _session, base = _setup(app, db, "pg6")
    owner = group.visitor(app, db, group.owner)
    publish_fix(db, "birnn-main-advantage")
    expected = _expected(owner.client.get(f"{base}/regrade").text)
    publish_fix(db, "birnn-main-advantage")  # the key back where it was: nothing to change

    stale = owner.form(f"{base}/regrade", {"expected": expected})

    assert stale.status_code == 409 and "published again since the dry run" in stale.text
    assert "No score would change" in stale.text
    assert db.scalars(select(AuditEntry)).all() == []


def test_the_audit_log_page_lists_changes_newest_first(app: FastAPI, db: Session) -> None:
    group, learner, _session, base = _setup(app, db, "pg5")
    owner = group.visitor(app, db, group.owner)
    url = f"{base}/overrides/{learner.public_id}"
    owner.form(url, {"percent": "60", "reason": "first reason", "action": "set"})
    owner.form(url, {"percent": "70", "reason": "second reason", "action": "set"})

    page = owner.client.get(f"/courses/{group.course.slug}/audit")

    assert page.status_code == 200
    assert "<caption>Changes 1 to 2 of 2</caption>" in page.text
    assert page.text.index("second reason") < page.text.index("first reason")
    assert "<td>Learner 0</td>" in page.text and "<td>75%</td>" in page.text
    learner_visit = group.visitor(app, db, group.learners[0])
    assert learner_visit.client.get(f"/courses/{group.course.slug}/audit").status_code == 403
