"""Spot the bug: pick the defective line (graded at once), then fix it, run by the real runner
against the hidden tests; through the page and the API."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from app.bank.loader import load_bank
from app.runner.client import RunnerOffError
from app.study import bugs
from app.study.service import StudyContent

BUG_ID = "last-step-as-summary"
PAGE = f"/topics/birnn/bugs/{BUG_ID}"
API = f"/api/v1/topics/birnn/bugs/{BUG_ID}"
REAL_BANK = Path(__file__).resolve().parents[2] / "questions"
BUG = yaml.safe_load((REAL_BANK / "birnn" / "bugs" / f"{BUG_ID}.yaml").read_text())


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def csrf(client: TestClient, url: str) -> str:
    page = client.get(url).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]  # type: ignore[index]


def post_fix(client: TestClient, code: str) -> tuple[int, str]:
    token = csrf(client, PAGE)
    response = client.post(PAGE, data={"csrf_token": token, "code": code})
    return response.status_code, text_of(response.text)


def test_the_list_links_every_bug(client: TestClient) -> None:
    bugs = client.get("/api/v1/topics/birnn/bugs").json()
    assert len(bugs) >= 4
    page = client.get("/topics/birnn/bugs").text
    for bug in bugs:
        assert f'href="/topics/birnn/bugs/{bug["id"]}"' in page


def test_the_page_shows_the_code_line_by_line_and_a_labelled_radio_per_line(
    client: TestClient,
) -> None:
    page = client.get(PAGE).text
    lines = BUG["code"].rstrip("\n").split("\n")
    assert page.count('<input type="radio" name="line"') == len(lines)
    assert '<label for="line-8">Line 8: <code>summary = out[:, -1, :]' in page
    assert '<label for="line-3">Line 3: (blank)</label>' in page
    assert "<legend>Which line is defective?</legend>" in page
    assert 'role="status" id="line-verdict"' in page
    assert "Why line" not in text_of(page)


def test_the_right_line_is_said_right_in_words_with_the_explanation(client: TestClient) -> None:
    response = client.get(PAGE, params={"line": BUG["bug_line"]})
    assert response.status_code == 200
    text = text_of(response.text)
    assert "Correct. Right: line 8 is the defective line." in text
    assert "Why line 8 is wrong" in text
    assert 'id="line-8" value="8" checked' in response.text


def test_a_wrong_line_is_said_wrong_without_the_explanation(client: TestClient) -> None:
    text = text_of(client.get(PAGE, params={"line": 7}).text)
    assert "Incorrect. Not line 7: that line is fine." in text
    assert "Why line" not in text


def test_a_line_past_the_code_is_a_422_naming_the_line(client: TestClient) -> None:
    page = client.get(PAGE, params={"line": 9})
    assert page.status_code == 422
    assert "line 9 is out of range: there are lines 1 to 8" in page.text
    api = client.post(f"{API}/line", json={"line": 9})
    assert api.status_code == 422
    assert api.json()["code"] == "out_of_range"
    assert api.json()["field"] == "line"


def test_the_api_grades_the_line_and_never_shows_it_before(client: TestClient) -> None:
    public = client.get(API).json()
    assert "bug_line" not in public and "fixed_code" not in public
    assert (
        public["lines"][7]
        == "summary = out[:, -1, :]                    # both directions' final states"
    )
    right = client.post(f"{API}/line", json={"line": 8}).json()
    assert right["correct"] is True and right["explanation_html"]
    wrong = client.post(f"{API}/line", json={"line": 2}).json()
    assert wrong["correct"] is False and wrong["explanation_html"] is None


def test_the_reference_fix_passes_every_hidden_test_in_the_sandbox(client: TestClient) -> None:
    status, text = post_fix(client, BUG["fixed_code"])
    assert status == 200
    total = len(BUG["tests"])
    assert f"Fixed. {total} of {total} hidden tests passed." in text
    for test in BUG["tests"]:
        assert f"{test['name']} Passed" in text


def test_a_wrong_fix_fails_a_test_said_in_words(client: TestClient) -> None:
    wrong = BUG["code"].replace("out[:, -1, :]", "out[:, 0, :]")
    status, text = post_fix(client, wrong)
    assert status == 200
    assert "Not fixed yet. 2 of 3 hidden tests passed." in text
    assert "summary's forward half is the forward direction's final state Failed" in text
    assert "claims forward_final == True; really runs, forward_final=False" in text


def test_the_snippet_unchanged_is_a_422_and_is_not_run(client: TestClient) -> None:
    status, text = post_fix(client, BUG["code"])
    assert status == 422
    assert "Cannot run that: this is the snippet unchanged: fix its defective line first." in text
    assert "hidden tests passed" not in text


def test_the_api_runs_a_fix_and_reports_each_test(client: TestClient) -> None:
    result = client.post(f"{API}/fix", json={"code": BUG["fixed_code"]}).json()
    assert result["correct"] is True
    assert result["passed"] == result["total"] == len(BUG["tests"])
    assert [t["name"] for t in result["tests"]] == [t["name"] for t in BUG["tests"]]
    blank = client.post(f"{API}/fix", json={"code": "   "})
    assert blank.status_code == 422
    assert blank.json()["message"] == "write some Python code"


def test_a_fix_posted_without_the_csrf_token_is_refused(client: TestClient) -> None:
    response = client.post(PAGE, data={"code": BUG["fixed_code"]})
    assert response.status_code in (403, 422)


def test_an_unknown_bug_is_a_404(client: TestClient) -> None:
    assert client.get("/topics/birnn/bugs/no-such-bug").status_code == 404
    assert client.get("/api/v1/topics/birnn/bugs/no-such-bug").json()["field"] == "bug"


def test_with_running_code_off_a_fix_is_refused_with_503() -> None:
    bug = StudyContent.of(load_bank(REAL_BANK)).bugs["birnn"][BUG_ID]
    fix = bugs.check_fix(None, bug, BUG["fixed_code"], learner="x", address=None)
    # A thread of its own: the browser tests' Playwright keeps an event loop in the main one.
    with pytest.raises(RunnerOffError) as info, ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, fix).result()
    assert info.value.status == 503
    assert "Checking a fix needs it." in info.value.message
