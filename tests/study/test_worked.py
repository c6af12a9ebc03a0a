"""Worked examples with faded steps: each problem leaves one more last step to the learner, and
each answer is graded by the bank's graders; through the page and the API."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import yaml
from starlette.testclient import TestClient

SERIES = "count-bidirectional-parameters"
PAGE = f"/topics/birnn/worked/{SERIES}"
API = f"/api/v1/topics/birnn/worked/{SERIES}/problems"
CLAIMS = [
    problem["check"]["expect"]
    for problem in yaml.safe_load(
        (Path(__file__).resolve().parents[2] / f"questions/birnn/worked/{SERIES}.yaml").read_text()
    )["problems"]
]


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def claimed(problem: int, name: str) -> str:
    """The answer the problem's check claims (proven by tests/study/test_study_content.py)."""
    expect = CLAIMS[problem - 1]
    if name in expect.get("shapes", {}):
        return ", ".join(map(str, expect["shapes"][name]))
    return str(expect["values"][name])


def test_the_list_links_each_problem_of_each_series(client: TestClient) -> None:
    page = client.get("/topics/birnn/worked").text
    for number in (1, 2, 3):
        assert f'href="{PAGE}/{number}"' in page
    assert "the last 2 steps are yours" in text_of(page)


def test_the_steps_fade_one_more_per_problem(client: TestClient) -> None:
    faded = [
        [step["faded"] for step in client.get(f"{API}/{n}").json()["steps"]] for n in (1, 2, 3)
    ]
    assert faded == [[False, False, False], [False, False, True], [False, True, True]]


def test_a_worked_step_shows_the_answer_its_check_claims(client: TestClient) -> None:
    steps = client.get(f"{API}/1").json()["steps"]
    assert f"= {claimed(1, 'per_direction')}." in steps[1]["worked_html"]
    assert f"<code>({claimed(1, 'w_ih')})</code>" in steps[0]["worked_html"]


def test_a_faded_step_hides_its_answer_and_asks_for_it(client: TestClient) -> None:
    step = client.get(f"{API}/2").json()["steps"][2]
    assert step["worked_html"] is None
    assert step["answer_format"] == "a number, such as 42 or 0.25"
    page = client.get(f"{PAGE}/2")
    assert '<label for="step-3-answer">Your answer to step 3</label>' in page.text
    assert claimed(2, "total") not in text_of(page.text)


def test_right_and_wrong_answers_are_said_in_words(client: TestClient) -> None:
    params = [("step", 2), ("answer", claimed(3, "per_direction")), ("step", 3), ("answer", "1")]
    response = client.get(f"{PAGE}/3", params=params)
    assert response.status_code == 200
    text = text_of(response.text)
    assert "1 of 2 steps right." in text
    assert f"Step 2: correct (you answered {claimed(3, 'per_direction')})." in text
    assert "Step 3: not right yet (you answered 1)." in text
    assert "Show step 3 worked" in text


def test_a_shape_step_is_graded_as_a_shape_in_any_usual_form(client: TestClient) -> None:
    url = "/api/v1/topics/birnn/worked/reading-h-n/problems/3"
    assert client.get(url).json()["steps"][1]["answer_format"].startswith("4, 7, 6 or")
    for written, right in [
        ("(2, 4, 5)", True),
        ("torch.Size([2, 4, 5])", True),
        ("4, 2, 5", False),
    ]:
        verdicts = client.post(
            f"{url}/answers", json={"answers": [{"step": 2, "answer": written}]}
        ).json()
        assert verdicts[0]["correct"] is right, written


def test_an_index_step_accepts_any_expression_selecting_the_same_row(client: TestClient) -> None:
    url = "/api/v1/topics/birnn/worked/reading-h-n/problems/3"
    for written, right in [("h_n[-1]", True), ("h_n[1]", True), ("h_n[0]", False)]:
        verdicts = client.post(
            f"{url}/answers", json={"answers": [{"step": 3, "answer": written}]}
        ).json()
        assert verdicts[0]["correct"] is right, written


def test_an_answer_that_cannot_be_read_is_a_422_naming_the_step(client: TestClient) -> None:
    response = client.get(f"{PAGE}/2", params=[("step", 3), ("answer", "many")])
    assert response.status_code == 422
    assert "Step 3: cannot read that answer: enter a number" in text_of(response.text)
    assert 'id="step-3-answer" name="answer"' in response.text
    assert 'aria-invalid="true"' in response.text


def test_a_step_that_is_not_left_to_the_learner_is_a_422(client: TestClient) -> None:
    response = client.get(f"{PAGE}/2", params=[("step", 1), ("answer", "5")])
    assert response.status_code == 422
    assert "step 1 is not left to you in problem 2 (those are: 3)" in response.text
    api = client.post(f"{API}/2/answers", json={"answers": [{"step": 9, "answer": "5"}]})
    assert api.status_code == 422
    assert api.json()["field"] == "step"


def test_a_problem_past_the_series_is_a_422_naming_the_problem(client: TestClient) -> None:
    response = client.get(f"{PAGE}/4")
    assert response.status_code == 422
    assert "problem 4 is out of range: there are problems 1 to 3" in response.text
    assert client.get(f"{API}/4").json()["field"] == "problem"


def test_unpaired_steps_and_answers_are_a_400(client: TestClient) -> None:
    response = client.get(f"{PAGE}/3", params=[("step", 2), ("step", 3), ("answer", "1")])
    assert response.status_code == 400
    assert "give one answer per step" in response.text


def test_the_api_grades_answers_and_leaves_blank_ones_out(client: TestClient) -> None:
    answers = [{"step": 2, "answer": ""}, {"step": 3, "answer": claimed(3, "total")}]
    verdicts = client.post(f"{API}/3/answers", json={"answers": answers}).json()
    assert [(v["step"], v["correct"], v["readable"]) for v in verdicts] == [(3, True, True)]
    assert claimed(3, "total") in verdicts[0]["worked_html"]


def test_an_unknown_series_is_a_404(client: TestClient) -> None:
    assert client.get("/topics/birnn/worked/nope/1").status_code == 404
    assert client.get("/api/v1/topics/birnn/worked/nope/problems/1").status_code == 404
