"""The report pages without JavaScript, on SQLite and PostgreSQL: the form beside a question
goes back where it came from and says so, a refused form says why next to its field, the
learner follows the thread, staff reply and set the status, and the bank list counts each
question's open reports with a link to them."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from app.core.templating import templates
from app.reports.models import ProblemReport
from tests.courses.support import make_user, signed_in
from tests.reports.support import Staffed, course_question, file, session_on, staffed_course


def report_form(visitor_next: str, staffed: Staffed) -> dict[str, str]:
    return {"session": staffed.session.public_id, "position": "1", "next": visitor_next}


def test_the_form_beside_a_question_reports_and_goes_back_saying_so(
    app: FastAPI, db: Session
) -> None:
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    back = f"/practice/{staffed.session.public_id}/1?answer=5"
    sent = learner.form("/reports", {**report_form(back, staffed), "kind": "typo", "text": ""})
    assert sent.status_code == 303, sent.text
    place = urlsplit(sent.headers["location"])
    assert place.path == f"/practice/{staffed.session.public_id}/1" and place.fragment == "report-1"
    query = parse_qs(place.query)
    assert query["answer"] == ["5"] and query["report_at"] == ["1"]
    rid = query["report"][0]
    assert db.scalar(select(ProblemReport.kind).where(ProblemReport.public_id == rid)) == "typo"


def test_the_form_never_sends_the_learner_off_the_site(app: FastAPI, db: Session) -> None:
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    form = {**report_form("//evil.example/x", staffed), "kind": "typo"}
    sent = learner.form("/reports", form)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/?report=")


def test_a_refused_report_is_shown_again_with_the_problem_beside_its_field(
    app: FastAPI, db: Session
) -> None:
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    form = {**report_form("/practice/x/1", staffed), "kind": "other", "text": ""}
    shown = learner.form("/reports", form)
    assert shown.status_code == 422
    problem = re.search(r'<p class="error" id="text-problem">([^<]+)</p>', shown.text)
    assert problem and "needs a text" in problem.group(1)
    assert 'value="other" checked' in shown.text and 'href="/practice/x/1"' in shown.text
    assert db.scalar(select(ProblemReport.id)) is None
    forged = learner.client.post("/reports", data={**form, "csrf_token": "0" * 64})
    assert forged.status_code == 403
    alone = learner.client.get(
        f"/reports/new?session={staffed.session.public_id}&position=1&next=//x"
    )
    assert alone.status_code == 200 and 'name="next" value="/"' in alone.text


def test_the_form_include_renders_for_its_position_and_confirms_a_sent_report(
    app: FastAPI,
) -> None:
    scope = {
        "type": "http",
        "app": app,
        "method": "GET",
        "path": "/tests/abc/result",
        "query_string": b"report=r-1&report_at=2",
        "headers": [],
    }
    request = Request(scope)
    include = templates.env.get_template("reports/_report_form.html")
    html = {
        position: include.render(
            request=request, csrf_token="t", report_session="abc", report_position=position
        )
        for position in (1, 2)
    }
    for position, page in html.items():
        assert f'id="report-{position}-text"' in page and 'name="session" value="abc"' in page
        assert 'name="next" value="/tests/abc/result"' in page
    assert "your report is sent" in html[2] and 'href="/reports/r-1"' in html[2]
    assert "your report is sent" not in html[1]


def test_the_learner_follows_the_status_and_adds_to_the_thread(app: FastAPI, db: Session) -> None:
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    rid = file(learner, staffed.session.public_id, text="Wrong key").json()["id"]
    editor = staffed.visitor(app, db, staffed.editor)
    base = f"/courses/{staffed.slug}/reports/{rid}"
    assert editor.form(f"{base}/status", {"status": "fixed", "fixed_in": "1"}).status_code == 303
    listed = learner.client.get("/reports")
    assert listed.status_code == 200 and "Fixed in version 1" in listed.text
    assert f'href="/reports/{rid}"' in listed.text
    added = learner.form(f"/reports/{rid}/messages", {"text": "Thanks!"})
    assert added.status_code == 303 and added.headers["location"] == f"/reports/{rid}?done=sent"
    page = learner.client.get(added.headers["location"])
    assert "Your message is added" in page.text and "Thanks!" in page.text
    assert "Wrong key" in page.text and 'id="report-status">Fixed in version 1' in page.text
    empty = learner.form(f"/reports/{rid}/messages", {"text": " "})
    assert empty.status_code == 422 and 'id="text-problem"' in empty.text
    other = staffed.visitor(app, db, staffed.klass.learners[1])
    assert other.client.get(f"/reports/{rid}").status_code == 404


def test_staff_pages_list_reply_and_refuse_a_version_the_question_lacks(
    app: FastAPI, db: Session
) -> None:
    staffed = staffed_course(db)
    rid = file(staffed.learner(app, db), staffed.session.public_id, text="Wrong key").json()["id"]
    viewer = staffed.visitor(app, db, staffed.viewer)
    listing = viewer.client.get(f"/courses/{staffed.slug}/reports?status=open")
    assert (
        listing.status_code == 200
        and f'href="/courses/{staffed.slug}/reports/{rid}"' in listing.text
    )
    assert "No reports" in viewer.client.get(f"/courses/{staffed.slug}/reports?status=fixed").text
    one = viewer.client.get(f"/courses/{staffed.slug}/reports/{rid}")
    assert one.status_code == 200 and "Wrong key" in one.text and "Send the reply" not in one.text
    editor = staffed.visitor(app, db, staffed.editor)
    base = f"/courses/{staffed.slug}/reports/{rid}"
    assert "Send the reply" in editor.client.get(base).text
    replied = editor.form(f"{base}/messages", {"text": "On it"})
    assert replied.status_code == 303
    assert "The editor (staff)" in editor.client.get(replied.headers["location"]).text
    refused = editor.form(f"{base}/status", {"status": "fixed", "fixed_in": "7"})
    assert refused.status_code == 422
    problem = re.search(r'<p class="error" id="fixed_in-problem">([^<]+)</p>', refused.text)
    assert problem and "no version 7" in problem.group(1)
    assert db.scalar(select(ProblemReport.status)) == "open"


def test_the_admin_pages_hold_the_shipped_bank_s_reports(app: FastAPI, db: Session) -> None:
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    started = learner.client.post("/api/v1/sessions", json={"topic": "birnn", "mode": "practice"})
    rid = file(learner, started.json()["id"], kind="unclear").json()["id"]
    admin = signed_in(app, db, make_user(db, "root@example.org", admin=True))
    assert f'href="/admin/reports/{rid}"' in admin.client.get("/admin/reports").text
    assert admin.form(f"/admin/reports/{rid}/status", {"status": "acknowledged"}).status_code == 303
    assert "Acknowledged" in admin.client.get(f"/admin/reports/{rid}").text
    owner = staffed.visitor(app, db, staffed.klass.owner)
    assert owner.client.get(f"/admin/reports/{rid}").status_code == 403


def test_the_bank_list_counts_each_question_s_open_reports(app: FastAPI, db: Session) -> None:
    staffed = staffed_course(db)
    quiet = course_question(db, staffed.klass, "quiet-question")
    learner = staffed.learner(app, db)
    file(learner, staffed.session.public_id, text="one")
    other_learner = staffed.klass.learner_of(db, staffed.klass.learners[1])
    second = session_on(db, other_learner, [staffed.question, quiet])
    other = staffed.visitor(app, db, staffed.klass.learners[1])
    file(other, second.public_id, 1, text="two")
    closed = file(other, second.public_id, 2, text="three").json()["id"]
    report = db.scalar(select(ProblemReport).where(ProblemReport.public_id == closed))
    assert report is not None
    report.status = "acknowledged"
    db.flush()
    viewer = staffed.visitor(app, db, staffed.viewer).client
    listed = viewer.get(f"/api/v1/courses/{staffed.slug}/questions").json()["questions"]
    assert {q["id"]: q["open_reports"] for q in listed} == {
        "reported-question": 2,
        "quiet-question": 0,
    }
    page = viewer.get(f"/courses/{staffed.slug}/bank").text
    link = f"/courses/{staffed.slug}/reports?status=open&amp;question=reported-question"
    assert f'href="{link}">2 open reports' in page
    filtered = viewer.get(link.replace("&amp;", "&"))
    assert filtered.text.count(f'href="/courses/{staffed.slug}/reports/') == 2
