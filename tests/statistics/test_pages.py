"""The statistics pages and API: who may read them, the plots they show, the cache."""

import xml.etree.ElementTree as ElementTree
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.attempts.models import Answer
from app.statistics.service import assignment_statistics
from tests.assignments.support import make_assignment, make_class
from tests.courses.support import make_user, signed_in
from tests.statistics.support import START, choice, shipped, submitted
from tests.statistics.test_items import SCORES


def _sat(app, db: Session, rows=SCORES, prefix: str = "c"):  # type: ignore[no-untyped-def]
    catalog = app.state.catalog
    group = make_class(db, learners=len(rows), prefix=prefix)
    assignment = make_assignment(db, catalog, group.course)
    questions = shipped(catalog, "single_choice", 4)
    for user, row in zip(group.learners, rows, strict=True):
        learner = group.learner_of(db, user)
        submitted(
            db, assignment, learner, [choice(q, s) for q, s in zip(questions, row, strict=True)]
        )
    return group, assignment


def _url(group, assignment) -> str:  # type: ignore[no-untyped-def]
    return f"/courses/{group.course.slug}/assignments/{assignment.public_id}/statistics"


def _svgs(html: str) -> list[ElementTree.Element]:
    found, rest = [], html
    while "<svg xmlns" in rest:
        start = rest.index("<svg xmlns")
        end = rest.index("</svg>", start) + len("</svg>")
        found.append(ElementTree.fromstring(rest[start:end]))
        rest = rest[end:]
    return found


def test_an_instructor_sees_the_figures_and_the_three_kinds_of_plot(app, db: Session) -> None:
    group, assignment = _sat(app, db)
    page = group.visitor(app, db, group.owner).client.get(_url(group, assignment))
    assert page.status_code == 200
    svgs = _svgs(page.text)
    titles = [s.find("{http://www.w3.org/2000/svg}title").text for s in svgs]  # type: ignore[union-attr]
    assert titles[:2] == ["Score histogram", "Facility against discrimination"]
    assert sum(t.startswith("Options of") for t in titles) == 4  # type: ignore[union-attr]
    assert "Cronbach" in page.text and "The numbers" in page.text
    assert "N = 6" in page.text and "/statistics/formulas" in page.text


def test_the_api_gives_figures_with_n_and_intervals(app, db: Session) -> None:
    group, assignment = _sat(app, db)
    client = group.visitor(app, db, group.owner).client
    body = client.get("/api/v1" + _url(group, assignment)).json()
    assert body["attempts"] == "first" and body["test"]["n"] == 6
    question = body["questions"][0]
    facility = question["figures"]["facility"]
    assert facility["n"] == 6 and set(facility["interval"]) == {"low", "high"}
    assert len(question["options"]) >= 2 and "point_biserial" in question["options"][0]
    assert body["flags"] == []
    every = client.get("/api/v1" + _url(group, assignment), params={"attempts": "all"})
    assert every.json()["attempts"] == "all"
    bad = client.get("/api/v1" + _url(group, assignment), params={"attempts": "some"})
    assert bad.status_code == 422


def test_learners_and_strangers_may_not_read_the_statistics(app, db: Session) -> None:
    group, assignment = _sat(app, db, rows=SCORES[:2])
    learner = group.visitor(app, db, group.learners[0]).client
    assert learner.get(_url(group, assignment)).status_code == 403
    assert learner.get("/api/v1" + _url(group, assignment)).status_code == 403
    assert learner.get(f"/courses/{group.course.slug}/statistics").status_code == 403


def test_another_courses_assignment_is_not_found(app, db: Session) -> None:
    _group, assignment = _sat(app, db, rows=SCORES[:1])
    other = make_class(db, learners=0, prefix="other")
    owner = other.visitor(app, db, other.owner).client
    wrong = f"/courses/{other.course.slug}/assignments/{assignment.public_id}/statistics"
    assert owner.get(wrong).status_code == 404
    assert owner.get("/api/v1" + wrong).status_code == 404


def test_the_course_dashboard_lists_flags_and_links_each_assignment(app, db: Session) -> None:
    everyone_wrong = [[0, 0, 0, 0]] * 40
    group, assignment = _sat(app, db, rows=everyone_wrong)
    page = group.visitor(app, db, group.owner).client.get(
        f"/courses/{group.course.slug}/statistics"
    )
    assert page.status_code == 200
    assert _url(group, assignment) in page.text
    assert page.text.count("too hard") == 4


def test_pages_of_no_attempts_and_one_attempt_show_na(app, db: Session) -> None:
    group, assignment = _sat(app, db, rows=[])
    client = group.visitor(app, db, group.owner).client
    page = client.get(_url(group, assignment))
    assert page.status_code == 200 and "n/a" in page.text
    assert len(_svgs(page.text)) == 2
    one_group, one = _sat(app, db, rows=[[1, 1, 1, 1]], prefix="one")
    page = one_group.visitor(app, db, one_group.owner).client.get(_url(one_group, one))
    assert page.status_code == 200 and "n/a" in page.text and "NaN" not in page.text


def test_the_formulas_page_shows_the_docs(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/statistics/formulas")
    assert page.status_code == 200 and "Cronbach" in page.text


def test_the_cache_serves_until_a_new_attempt_or_a_regrade_arrives(app, db: Session) -> None:
    group, assignment = _sat(app, db, rows=SCORES[:3])
    first = assignment_statistics(db, assignment)
    assert assignment_statistics(db, assignment) is first
    questions = shipped(app.state.catalog, "single_choice", 4)
    latecomer = group.learner_of(db, make_class(db, learners=0, prefix="late").owner)
    submitted(db, assignment, latecomer, [choice(q, 1) for q in questions], minutes=60)
    after = assignment_statistics(db, assignment)
    assert after is not first and after.test.n == 4
    db.execute(
        update(Answer)
        .where(Answer.learner_id == latecomer.id, Answer.position == 1)
        .values(score=0.0, correct=False, updated_at=START + timedelta(hours=2))
    )
    regraded = assignment_statistics(db, assignment)
    assert regraded is not after
    assert regraded.percents != after.percents
    assert assignment_statistics(db, assignment, "all") is not regraded


def test_the_api_gives_null_for_na_figures_of_a_single_attempt(app, db: Session) -> None:
    group, assignment = _sat(app, db, rows=[[1, 1, 1, 1]])
    body = group.visitor(app, db, group.owner).client.get("/api/v1" + _url(group, assignment))
    assert body.status_code == 200 and "NaN" not in body.text
    test = body.json()["test"]
    assert test["n"] == 1 and test["mean"]["value"] == 1
    assert test["standard_deviation"]["value"] is None
    assert test["cronbach_alpha"] == {"value": None, "n": 1, "interval": None}


def test_a_site_admin_reads_the_shipped_tests_statistics_and_nobody_else(
    app: FastAPI, db: Session, client: TestClient
) -> None:
    for position in (1, 2):  # two learners' tests, one answer each
        learner = TestClient(app, base_url="http://testserver")
        session = learner.post("/api/v1/sessions", json={"topic": "birnn", "mode": "test"}).json()
        learner.post(
            f"/api/v1/sessions/{session['id']}/answers", json={"position": position, "answer": "A"}
        )
        assert learner.post(f"/api/v1/sessions/{session['id']}/finish").status_code == 200
    admin = signed_in(app, db, make_user(db, "stats-admin@example.org", admin=True)).client
    figures = admin.get("/api/v1/admin/topics/birnn/statistics").json()
    assert len(figures["percents"]) == 2 and figures["test"]["mean"]["n"] == 2
    page = admin.get("/admin/topics/birnn/statistics")
    assert page.status_code == 200 and len(_svgs(page.text)) >= 2
    learner_account = signed_in(app, db, make_user(db, "stats-learner@example.org")).client
    assert learner_account.get("/admin/topics/birnn/statistics").status_code == 403
    assert client.get("/api/v1/admin/topics/birnn/statistics").status_code == 401
    assert admin.get("/api/v1/admin/topics/nope/statistics").status_code == 404


def test_a_site_admins_account_page_links_the_shipped_banks_reports_and_test_statistics(
    app: FastAPI, db: Session
) -> None:
    admin = signed_in(app, db, make_user(db, "links-admin@example.org", admin=True)).client
    page = admin.get("/account").text
    assert 'href="/admin/reports"' in page and 'href="/admin/topics/birnn/statistics"' in page
    learner = signed_in(app, db, make_user(db, "links-learner@example.org")).client
    assert "/admin/topics/birnn/statistics" not in learner.get("/account").text
