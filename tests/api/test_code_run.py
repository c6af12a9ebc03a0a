"""Run: a learner's code on a code question's visible samples, through the API and the pages,
with the real runner, on SQLite and PostgreSQL. A Run is not an attempt: it stores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.attempts.models import Answer
from app.bank.schema import CodeQuestion
from tests.api.test_sessions_api import bank_question, question_at, start
from tests.pages.test_pages_without_js import csrf

MASKED_MEAN = "masked-mean-over-time"
# The samples of masked-mean-over-time: the shape passes, the values do not (padding counted).
PRINTS_AND_FAILS_ONE = """import torch


def masked_mean(out, lengths):
    print("pooling", tuple(out.shape))
    return out.mean(dim=1)
"""


def code_position(
    client: TestClient, session_id: str, total: int, slug: str | None = None
) -> tuple[int, CodeQuestion]:
    """The first code question of the session (or the one with id `slug`) and its position."""
    for position in range(1, total + 1):
        item = question_at(client, session_id, position)
        if item["question"]["type"] == "code" and slug in (None, item["question"]["id"]):
            question = bank_question(client, item["question"])
            assert isinstance(question, CodeQuestion)
            return position, question
    raise AssertionError(f"no code question {slug or ''} in this session")


def run(client: TestClient, session_id: str, position: int, code: Any) -> Any:
    return client.post(
        f"/api/v1/sessions/{session_id}/questions/{position}/run", json={"code": code}
    )


def answer_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Answer)) or 0


@pytest.fixture
def practice(client: TestClient) -> dict[str, Any]:
    return start(client, mode="practice", tag="packing")


def test_a_run_names_each_sample_with_expected_and_got_and_shows_the_output(
    client: TestClient, db: Session, practice: dict[str, Any]
) -> None:
    position, question = code_position(client, practice["id"], practice["total"], MASKED_MEAN)
    before = answer_count(db)

    response = run(client, practice["id"], position, PRINTS_AND_FAILS_ONE)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["position"] == position and body["total"] == len(question.samples)
    assert "pooling (2, 3, 2)" in body["stdout"]
    assert body["exception"] is None
    (sample,) = body["samples"]
    assert sample["name"] == question.samples[0].name
    assert sample["passed"] is False
    assert sample["expected"] == "pooled has shape (2, 2), first_mean == 2.0, second_mean == 6.0"
    assert sample["got"].startswith("runs, pooled=shape (2, 2), first_mean=")  # the mean of all
    assert sample["code"] == question.samples[0].code
    assert body["passed"] == 0
    assert answer_count(db) == before, "a Run stores no answer"


def test_the_reference_passes_every_sample_and_the_untouched_starter_may_run(
    client: TestClient, practice: dict[str, Any]
) -> None:
    position, question = code_position(client, practice["id"], practice["total"])

    solved = run(client, practice["id"], position, question.solution_code).json()
    starter = run(client, practice["id"], position, question.starter)

    assert solved["passed"] == solved["total"] == len(question.samples)
    assert all(s["message"] == "passed" for s in solved["samples"])
    assert starter.status_code == 200, "untouched starter code may be run (it is no attempt)"
    assert starter.json()["passed"] < len(question.samples)


def test_the_samples_are_shown_before_any_run_in_the_api_and_the_page(
    client: TestClient, practice: dict[str, Any]
) -> None:
    position, question = code_position(client, practice["id"], practice["total"])
    shown = question_at(client, practice["id"], position)["question"]["samples"]
    assert shown == [{"name": s.name, "code": s.code} for s in question.samples]
    page = client.get(f"/practice/{practice['id']}/{position}").text
    assert f"The sample tests Run tries ({len(question.samples)})" in page
    assert all(str(escape(s.name)) in page for s in question.samples)


def test_an_exception_in_the_code_is_reported_with_its_line(
    client: TestClient, practice: dict[str, Any]
) -> None:
    position, _ = code_position(client, practice["id"], practice["total"])

    body = run(client, practice["id"], position, "x = 1\ny = undefined_name\n").json()

    assert body["exception"]["type"] == "NameError" and body["exception"]["line"] == 2
    assert body["passed"] == 0
    for sample in body["samples"]:
        assert sample["got"] == sample["message"]
        assert sample["got"].startswith("your code raised NameError (line 2)")


@pytest.mark.parametrize(
    ("code", "words"), [("", "write some Python code"), ("   \n", "write some Python code")]
)
def test_a_run_without_code_is_422_naming_the_code(
    client: TestClient, practice: dict[str, Any], code: str, words: str
) -> None:
    position, _ = code_position(client, practice["id"], practice["total"])
    response = run(client, practice["id"], position, code)
    assert response.status_code == 422
    assert response.json()["field"] == "code" and words in response.json()["message"]


def test_a_run_of_a_question_that_is_not_code_is_422_saying_so(client: TestClient) -> None:
    session = start(client, mode="practice")
    position = next(
        n
        for n in range(1, session["total"] + 1)
        if question_at(client, session["id"], n)["question"]["type"] != "code"
    )
    response = run(client, session["id"], position, "x = 1")
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "position" and "only code questions have a Run" in body["message"]


def test_a_run_outside_the_session_or_of_someone_elses_is_404(
    client: TestClient, other_client: TestClient, practice: dict[str, Any]
) -> None:
    outside = run(client, practice["id"], practice["total"] + 1, "x = 1")
    assert outside.status_code == 404 and outside.json()["field"] == "position"
    assert run(other_client, practice["id"], 1, "x = 1").status_code == 404
    assert run(client, practice["id"], 1, None).status_code == 422  # code must be text


def test_a_run_in_a_finished_test_is_409(client: TestClient) -> None:
    for _ in range(20):  # a test draws its questions at random: find one with a code question
        session = start(client, mode="test")
        try:
            position, question = code_position(client, session["id"], session["total"])
        except AssertionError:
            client.post(f"/api/v1/sessions/{session['id']}/finish")  # a new draw, not the same
            continue
        assert client.post(f"/api/v1/sessions/{session['id']}/finish").status_code == 200
        response = run(client, session["id"], position, question.solution_code)
        assert response.status_code == 409
        return
    raise AssertionError("no test drew a code question in 20 tries")


def test_with_running_code_off_a_run_is_503_saying_so(
    app: FastAPI, client: TestClient, practice: dict[str, Any]
) -> None:
    position, question = code_position(client, practice["id"], practice["total"])
    runner = app.state.runner
    app.state.runner = None  # as with TORCHQUIZ_RUNNER_URL=off
    try:
        response = run(client, practice["id"], position, question.solution_code)
    finally:
        app.state.runner = runner
    assert response.status_code == 503
    assert response.json()["code"] == "runner_off"
    assert "Running code is off" in response.json()["message"]


def test_a_submission_reports_expected_got_and_what_the_code_printed(
    client: TestClient, practice: dict[str, Any]
) -> None:
    position, question = code_position(client, practice["id"], practice["total"], MASKED_MEAN)
    url = f"/api/v1/sessions/{practice['id']}/answers"

    given = client.post(url, json={"position": position, "answer": PRINTS_AND_FAILS_ONE}).json()
    given = given["given"]

    assert "pooling" in given["stdout"]
    by_name = {test["name"]: test for test in given["tests"]}
    assert set(by_name) == {test.name for test in question.tests}
    shape = by_name["one vector per sequence"]
    assert shape["passed"] and shape["expected"] == "pooled has shape (3, 4)"
    padding = by_name["the values at padded positions make no difference"]
    assert not padding["passed"]
    assert padding["expected"] == "padding_ignored == True"
    assert padding["got"] == "runs, padding_ignored=False"


def test_the_page_runs_the_editors_code_and_keeps_it_without_javascript(
    client: TestClient, db: Session, practice: dict[str, Any]
) -> None:
    position, question = code_position(client, practice["id"], practice["total"], MASKED_MEAN)
    page = client.get(f"/practice/{practice['id']}/{position}")
    assert "Run it" not in page.text, "the prompt's fragment is not what a code question runs"
    assert ">Submit</button>" in page.text
    before = answer_count(db)
    form = {"csrf_token": csrf(page.text), "answer": PRINTS_AND_FAILS_ONE, "shown_at": "1"}

    ran = client.post(f"/practice/{practice['id']}/{position}/samples", data=form)

    assert ran.status_code == 200
    assert "Your code on the samples" in ran.text
    assert f"Failed: “{question.samples[0].name}”" in ran.text
    assert "Expected: pooled has shape (2, 2), first_mean == 2.0" in ran.text
    assert "pooling (2, 3, 2)" in ran.text
    assert escape('print("pooling", tuple(out.shape))') in ran.text, "the editor keeps the code"
    assert answer_count(db) == before

    empty = client.post(
        f"/practice/{practice['id']}/{position}/samples", data={**form, "answer": ""}
    )
    assert empty.status_code == 422 and "write some Python code" in empty.text


def test_the_test_page_has_the_same_run_and_its_review_shows_the_code_and_failed_tests(
    client: TestClient,
) -> None:
    for _ in range(20):
        session = start(client, mode="test")
        try:
            position, question = code_position(client, session["id"], session["total"])
        except AssertionError:
            client.post(f"/api/v1/sessions/{session['id']}/finish")  # a new draw, not the same
            continue
        base = f"/tests/{session['id']}/{position}"
        page = client.get(base)
        form = {"csrf_token": csrf(page.text), "answer": question.solution_code}
        ran = client.post(f"{base}/samples", data=form)
        assert ran.status_code == 200
        assert f"All {len(question.samples)} passed." in ran.text
        edited = question.starter + "\n# not finished\n"
        body = {"position": position, "answer": edited}
        assert client.post(f"/api/v1/sessions/{session['id']}/answers", json=body).is_success
        assert client.post(f"/api/v1/sessions/{session['id']}/finish").is_success
        review = client.get(f"/tests/{session['id']}/result").text
        assert "Your code for question" in review and "# not finished" in review
        assert f"Hidden tests of question {position}" in review
        assert "Failed: “" in review
        return
    raise AssertionError("no test drew a code question in 20 tries")


def test_the_openapi_document_describes_the_run(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/sessions/{session_id}/questions/{position}/run"]["post"]
    assert {"404", "409", "422", "429", "503"} <= set(operation["responses"])
    assert "Not an attempt" in operation["description"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/SampleRun"}
    report = spec["components"]["schemas"]["CodeTestReport"]["properties"]
    assert {"name", "passed", "expected", "got", "code"} <= set(report)
