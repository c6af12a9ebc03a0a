"""The gradebook's pages: the table, a learner's page with the override form, the regrade's
dry run and confirm, and the audit log."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.models import Assignment
from app.gradebook.models import AuditEntry, GradeOverride
from tests.assignments.support import make_class
from tests.gradebook.support import T0, add_data_viewer, fixed_assignment, publish_fix, sit


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
    group, learner, session, base = _setup(app, db, "pg1")
    owner = group.visitor(app, db, group.owner)

    page = owner.client.get(f"{base}/gradebook")

    assert page.status_code == 200
    html = page.text
    assert "<caption>Results of 2 learners in Week 2." in html
    assert '<th scope="row">Learner 1</th>' in html  # no learner record yet: no page to link
    # Links relative to the page: .../{aid}/gradebook -> .../{aid}/attempts/..., .../learners/...
    assert f'href="attempts/{session.public_id}">Attempt 1 of Learner 0</a>: 75%' in html
    assert f'<a href="learners/{learner.public_id}">Learner 0</a></th>' in html
    assert f'href="{base}/gradebook.csv"' in html and f'href="{base}/statistics"' in html
    assert "Score distribution per question" in html and "birnn/birnn-main-advantage" in html
    assert "<form" not in html  # the override form is on the learner's page
    viewer = group.visitor(app, db, add_data_viewer(db, group.course, "pg1-ta@example.org"))
    theirs = viewer.client.get(f"{base}/gradebook")
    assert theirs.status_code == 200 and "<caption>Results of 2 learners" in theirs.text
    assert "Regrade after a question" not in theirs.text


def test_the_learner_page_lists_their_attempts_and_holds_the_override_form(
    app: FastAPI, db: Session
) -> None:
    group, learner, session, base = _setup(app, db, "pg7")
    catalog = app.state.catalog
    assignment = db.scalars(select(Assignment)).one()
    second = sit(db, catalog, assignment, learner, ["right"] * 4, start=T0 + timedelta(hours=1))
    owner = group.visitor(app, db, group.owner)

    page = owner.client.get(f"{base}/learners/{learner.public_id}")

    assert page.status_code == 200
    html = page.text
    assert "<h1>Learner 0: Week 2</h1>" in html
    assert "<caption>2 attempts of Learner 0." in html
    for number, attempt in ((1, session), (2, second)):
        link = f'href="{base}/attempts/{attempt.public_id}">Attempt {number} of Learner 0</a>'
        assert link in html
    assert "<dt>Best grade</dt><dd>100%</dd>" in html and "<dt>Override</dt><dd>none</dd>" in html
    assert '<label for="percent">' in html and '<label for="reason">' in html
    assert "Remove the override" not in html  # none to remove yet
    action = f'action="{base}/overrides/{learner.public_id}"'
    assert action in html
    viewer = group.visitor(app, db, add_data_viewer(db, group.course, "pg7-ta@example.org"))
    theirs = viewer.client.get(f"{base}/learners/{learner.public_id}")
    assert theirs.status_code == 200 and "<caption>2 attempts of Learner 0." in theirs.text
    assert "<form" not in theirs.text and action not in theirs.text


def test_the_learner_page_shows_the_override_and_its_reason(app: FastAPI, db: Session) -> None:
    group, learner, _session, base = _setup(app, db, "pg8")
    owner = group.visitor(app, db, group.owner)
    owner.form(f"{base}/overrides/{learner.public_id}", {"percent": "40", "reason": "copied"})

    html = owner.client.get(f"{base}/learners/{learner.public_id}").text

    assert "<dt>Override</dt><dd>40%: copied (set <time" in html
    assert "<dt>Final grade</dt><dd>40%, the override</dd>" in html
    assert "Remove the override" in html


def test_the_learner_page_is_a_404_for_anyone_not_on_this_gradebook(
    app: FastAPI, db: Session
) -> None:
    group, _learner, _session, base = _setup(app, db, "pg9")
    other = make_class(db, learners=1, prefix="pg9-other")
    stranger = other.learner_of(db, other.learners[0])
    staff = group.learner_of(db, group.owner)  # staff are not on the gradebook
    owner = group.visitor(app, db, group.owner)

    for public_id in (stranger.public_id, staff.public_id, str(uuid.uuid4())):
        missing = owner.client.get(f"{base}/learners/{public_id}")
        assert missing.status_code == 404, public_id
    assert owner.client.get(f"{base}/learners/not-an-id").status_code in (404, 422)


def test_a_learner_may_not_open_a_learner_page(app: FastAPI, db: Session) -> None:
    group, learner, _session, base = _setup(app, db, "pg10")
    them = group.visitor(app, db, group.learners[0])

    refused = them.client.get(f"{base}/learners/{learner.public_id}")

    assert refused.status_code == 403


def test_the_override_form_sets_and_removes_a_grade(app: FastAPI, db: Session) -> None:
    group, learner, _session, base = _setup(app, db, "pg2")
    owner = group.visitor(app, db, group.owner)
    url = f"{base}/overrides/{learner.public_id}"

    done = owner.form(url, {"percent": "95", "reason": "resubmitted on paper", "action": "set"})

    assert done.status_code == 303
    assert done.headers["location"].endswith(f"{base}/learners/{learner.public_id}?done=override")
    shown = owner.client.get(done.headers["location"])
    assert "Grade set." in shown.text and "95%: resubmitted on paper" in shown.text
    table = owner.client.get(f"{base}/gradebook").text
    assert "<td>95%: resubmitted on paper</td><td>95%</td>" in table
    removed = owner.form(url, {"percent": "", "reason": "entered by mistake", "action": "remove"})
    assert removed.status_code == 303
    assert "Override removed" in owner.client.get(removed.headers["location"]).text
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
    assert "<h1>Learner 0: Week 2</h1>" in blank.text  # the learner's page again
    assert 'id="reason-problem">give a reason' in blank.text
    assert 'value="80"' in blank.text  # what was typed is kept
    assert high.status_code == 422 and 'id="percent-problem"' in high.text
    assert 'id="percent" name="percent" type="number"' in high.text
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
