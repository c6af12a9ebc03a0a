"""Assignment pages: the staff's list and form (every rule round-trips through it), and a
learner's start page, from which they start or continue an attempt. On both databases."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.assignments import rules_of
from app.attempts.models import Assignment
from app.core.db import utcnow
from tests.assignments.support import SHIPPED, Class, make_assignment, make_class
from tests.courses.support import anonymous, make_user, signed_in


class FormReader(HTMLParser):
    """What a browser would submit from the page's form posting to `action`: text inputs'
    values, ticked checkboxes and radios, each select's chosen option."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.first_option: str | None = None
        self.chosen: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif not self.inside:
            return
        elif tag == "input" and "name" in a:
            kind = a.get("type", "text")
            if kind not in ("checkbox", "radio") or "checked" in a:
                self.fields.append((a["name"], a.get("value", "on")))
        elif tag == "select":
            self.select, self.first_option, self.chosen = a["name"], None, None
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            self.first_option = value if self.first_option is None else self.first_option
            if "selected" in a:
                self.chosen = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None and self.inside:
            self.fields.append((self.select, self.chosen or self.first_option or ""))
            self.select = None


def form_fields(html: str, action: str) -> list[tuple[str, str]]:
    reader = FormReader(action)
    reader.feed(html)
    return reader.fields


def as_data(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields for the test client, repeated names (ticked checkboxes) kept."""
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return data


def new_url(group: Class) -> str:
    return f"/courses/{group.course.slug}/assignments"


def only_assignment(db: Session) -> Assignment:
    db.expire_all()
    return db.scalars(select(Assignment)).one()


def filled(**changes: Any) -> dict[str, Any]:
    """The form as an editor fills it: 2 easy questions from the shipped topic."""
    return {
        "title": "Homework 1",
        "sources": SHIPPED,
        "draw-0-count": "2",
        "draw-0-difficulty": "easy",
        "draw-0-tag": "",
        "draw-1-count": "",
        "draw-2-count": "",
        "late": "refuse",
        "late_penalty_percent": "0",
        "feedback": "after_submission",
        "shuffle_options": "on",
        **changes,
    }


def test_an_editor_sets_an_assignment_with_the_form(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    editor = signed_in(app, db, group.owner)
    page = editor.client.get(f"{new_url(group)}/new")
    assert page.status_code == 200
    assert f'value="course-{group.course.slug}"' in page.text  # the course bank, a source
    assert f'value="{SHIPPED}"' in page.text
    assert f'name="questions" type="checkbox" value="{SHIPPED}/' in page.text
    assert 'for="draw-2-count"' in page.text  # three draw rows at least
    saved = editor.form(new_url(group), filled())
    assert saved.status_code == 303
    assert saved.headers["location"].endswith(f"{new_url(group)}?done=created")
    assignment = only_assignment(db)
    rules = rules_of(assignment)
    assert assignment.title == "Homework 1" and assignment.created_by == group.owner.id
    assert [(d.count, d.difficulty) for d in rules.draws] == [(2, "easy")]
    listed = editor.client.get(saved.headers["location"]).text
    assert "Assignment set." in listed and "Homework 1" in listed
    base = f"{new_url(group)}/{assignment.public_id}"
    for link in (f"{base}/edit", f"{base}/gradebook", f"{base}/statistics"):
        assert f'href="{link}"' in listed
    assert f'href="/assignments/{assignment.public_id}"' in listed


def test_every_rule_round_trips_through_the_form(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    editor = signed_in(app, db, group.owner)
    every = filled(
        title="Everything",
        sources=SHIPPED,
        questions=f"{SHIPPED}/gru-stacked-bidir-param-count",
        **{"draw-0-count": "2", "draw-0-difficulty": "medium", "draw-1-count": "1"},
        top_up_to="6",
        attempts_allowed="3",
        time_limit_minutes="45",
        opens_at="2030-01-01T09:00",
        closes_at="2030-01-08T17:30",
        late="penalty",
        late_until="2030-01-10T17:30",
        late_penalty_percent="20",
        shuffle_questions="on",
        shuffle_options="",
        variant_per_learner="on",
        prefer_unseen="on",
        feedback="after_close",
    )
    del every["shuffle_options"]  # unticked: not sent
    assert editor.form(new_url(group), every).status_code == 303
    assignment = only_assignment(db)
    saved = rules_of(assignment)
    assert saved.late_penalty_percent == 20 and saved.shuffle_options is False
    assert (
        saved.closes_at is not None and saved.closes_at.isoformat() == "2030-01-08T17:30:00+00:00"
    )
    edit = f"{new_url(group)}/{assignment.public_id}/edit"
    page = editor.client.get(edit)
    assert page.status_code == 200
    shown = form_fields(page.text, edit)
    assert ("title", "Everything") in shown and ("opens_at", "2030-01-01T09:00") in shown
    # What the edit page shows, sent back as a browser would (its own CSRF token among the
    # fields), is the same assignment.
    resent = editor.client.post(edit, data=as_data(shown))
    assert resent.status_code == 303, resent.text
    assert rules_of(only_assignment(db)) == saved


def test_a_ticked_fixed_question_and_many_sources_round_trip(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    editor = signed_in(app, db, group.owner)
    bank = f"course-{group.course.slug}"
    fields = [(k, v) for k, v in filled().items() if k != "sources"]
    fields += [("sources", bank), ("sources", SHIPPED), ("csrf_token", editor.csrf)]
    fields += [("questions", f"{SHIPPED}/gru-stacked-bidir-param-count")]
    assert editor.client.post(new_url(group), data=as_data(fields)).status_code == 303
    assignment = only_assignment(db)
    rules = rules_of(assignment)
    assert rules.sources == [bank, SHIPPED] and len(rules.questions) == 1
    edit = f"{new_url(group)}/{assignment.public_id}/edit"
    shown = form_fields(editor.client.get(edit).text, edit)
    assert ("sources", bank) in shown and ("sources", SHIPPED) in shown
    assert ("questions", f"{SHIPPED}/gru-stacked-bidir-param-count") in shown


def test_the_form_shows_each_problem_beside_its_field_keeping_the_values(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db)
    editor = signed_in(app, db, group.owner)
    cases = [
        (
            {"opens_at": "2030-01-02T00:00", "closes_at": "2030-01-01T00:00"},
            "closes_at",
            "closes_at must come after opens_at",
        ),
        (
            {"closes_at": "2030-01-01T00:00", "late_until": "2030-01-02T00:00"},
            "late_until",
            "late_until needs late: penalty",
        ),
        ({"draw-0-count": ""}, "draws", "add a draw"),
        ({"questions": f"{SHIPPED}/no-such-question"}, "questions", "no-such-question"),
        ({"sources": "no-such-topic"}, "sources", "no-such-topic"),
        ({"draw-1-count": "0"}, "draw-1", "greater than or equal to 1"),
        ({"opens_at": "next tuesday"}, "opens_at", "YYYY-MM-DDTHH:MM"),
        ({"title": ""}, "title", "at least 1 character"),
    ]
    for changes, field, words in cases:
        refused = editor.form(new_url(group), filled(**({"title": "Kept title"} | changes)))
        assert refused.status_code in (400, 422), (field, refused.status_code)
        assert f'id="{field}-problem"' in refused.text, field
        problem = refused.text.split(f'id="{field}-problem">', 1)[1].split("</p>", 1)[0]
        assert words in problem, (field, problem)
        if field != "title":
            assert 'value="Kept title"' in refused.text
    assert db.scalars(select(Assignment)).first() is None


def test_a_non_editor_cannot_open_the_form(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    learner = signed_in(app, db, group.learners[0])
    assert learner.client.get(f"{new_url(group)}/new").status_code == 403
    assert learner.form(new_url(group), filled()).status_code == 403
    assert db.scalars(select(Assignment)).first() is None


def test_the_course_list_shows_learners_the_open_assignments_only(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db)
    catalog = app.state.catalog
    now = make_assignment(db, catalog, group.course, "Open now")
    later = (utcnow() + timedelta(days=2)).isoformat()
    make_assignment(db, catalog, group.course, "Not yet", opens_at=later)
    learner = signed_in(app, db, group.learners[0])
    page = learner.client.get(new_url(group))
    assert page.status_code == 200
    assert f'href="/assignments/{now.public_id}"' in page.text
    assert "Not yet" not in page.text and '/edit"' not in page.text
    home = learner.client.get(f"/courses/{group.course.slug}").text
    assert f'href="{new_url(group)}"' in home


def test_an_editor_archives_an_assignment_from_the_list(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    assignment = make_assignment(db, app.state.catalog, group.course)
    editor = signed_in(app, db, group.owner)
    done = editor.form(f"{new_url(group)}/{assignment.public_id}/archive")
    assert done.status_code == 303
    listed = editor.client.get(done.headers["location"]).text
    assert "Assignment archived" in listed and "Homework 1" not in listed
    learner = signed_in(app, db, group.learners[0])
    assert learner.client.get(f"/assignments/{assignment.public_id}").status_code == 404


# --- a learner's start page ---


def test_a_learner_starts_then_continues_from_the_start_page(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    aid = make_assignment(
        db, app.state.catalog, group.course, attempts_allowed=2, time_limit_minutes=20
    ).public_id
    learner = signed_in(app, db, group.learners[0])
    page = learner.client.get(f"/assignments/{aid}")
    assert page.status_code == 200
    assert "4 questions." in page.text and "Time limit: 20 minutes" in page.text
    assert "Attempts: 0 of 2 used." in page.text and ">Start</button>" in page.text
    started = learner.form(f"/assignments/{aid}/start")
    assert started.status_code == 303
    location = started.headers["location"]
    assert location.startswith("http://testserver/tests/") and location.endswith("/1")
    page = learner.client.get(f"/assignments/{aid}")
    assert ">Continue attempt</button>" in page.text and "Attempts: 1 of 2 used." in page.text
    again = learner.form(f"/assignments/{aid}/start")
    assert again.headers["location"] == location


def test_a_learner_with_no_attempts_left_reads_why(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    aid = make_assignment(db, app.state.catalog, group.course, attempts_allowed=1).public_id
    learner = signed_in(app, db, group.learners[0])
    session = learner.form(f"/assignments/{aid}/start").headers["location"].split("/")[-2]
    assert learner.client.post(f"/api/v1/sessions/{session}/finish").status_code == 200
    page = learner.client.get(f"/assignments/{aid}")
    assert "You cannot start a new attempt: no attempts left: 1 of 1 used." in page.text
    assert "</button>" not in page.text.split("Your attempts", 1)[0].split("<main", 1)[1]
    assert "0.0%" in page.text  # the submitted attempt's score and grade
    refused = learner.form(f"/assignments/{aid}/start")
    assert refused.status_code == 409 and "no attempts left: 1 of 1 used" in refused.text


def test_an_outsider_finds_no_assignment(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    aid = make_assignment(db, app.state.catalog, group.course).public_id
    outsider = signed_in(app, db, make_user(db, "outsider@example.org"))
    assert outsider.client.get(f"/assignments/{aid}").status_code == 404
    assert outsider.form(f"/assignments/{aid}/start").status_code == 404
    assert anonymous(app).client.get(f"/assignments/{aid}").status_code == 401
