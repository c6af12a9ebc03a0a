"""The lab's advanced-mode form checks its seed with the bound the JSON API declares: an
out-of-range seed is a 422 naming it, no run is stored or sent to the sandbox, and the
learner's lab page and runs keep working. On SQLite and PostgreSQL, with the lab writing
its runs as in production."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.hardening.support import LONE_SURROGATE, csrf, hostile_form

MODEL = "from torch import nn\n\nclass Model(nn.Module):\n    pass\n"


def a_new_learner(client: TestClient) -> str:
    """Forget the last test's learner; the lab page's CSRF token for the new one."""
    client.cookies.clear()
    page = client.get("/topics/birnn/lab")
    assert page.status_code == 200
    return csrf(page.text)


def no_runs_and_pages_work(client: TestClient) -> None:
    runs = client.get("/api/v1/lab/runs")
    assert runs.status_code == 200 and runs.json()["total"] == 0, runs.text
    assert client.get("/topics/birnn/lab").status_code == 200


@pytest.mark.parametrize("seed", ["-1", "2147483648", "9" * 400])
def test_the_advanced_form_refuses_a_seed_out_of_range_and_stores_no_run(
    live_client: TestClient, seed: str
) -> None:
    form = {"csrf_token": a_new_learner(live_client), "code": MODEL, "code_seed": seed}
    refused = live_client.post("/topics/birnn/lab/code", data=form, follow_redirects=False)
    assert refused.status_code == 422
    assert "The model was not trained: Seed: Input should be" in refused.text
    no_runs_and_pages_work(live_client)


def test_the_json_api_refuses_the_same_seeds_by_the_same_bound(live_client: TestClient) -> None:
    a_new_learner(live_client)
    for seed in (-1, 2**31, int("9" * 400)):
        body = {"config": {"seed": seed}, "code": MODEL}
        response = live_client.post("/api/v1/lab/runs", json=body)
        assert response.status_code == 422 and response.json()["field"] == "config.seed"
    no_runs_and_pages_work(live_client)


@pytest.mark.parametrize("field", ["code", "code_seed", "hidden_size"])
def test_a_lab_form_field_that_is_no_text_is_refused_and_shown_back(
    live_client: TestClient, field: str
) -> None:
    token = a_new_learner(live_client)
    action = "/topics/birnn/lab/code" if field.startswith("code") else "/topics/birnn/lab"
    fields = {"csrf_token": token, "code": MODEL, "cell": "RNN", field: f"1{LONE_SURROGATE}"}
    refused = live_client.post(action, **hostile_form(fields), follow_redirects=False)
    assert refused.status_code == 422
    assert "1\ufffd" in refused.text, "what was typed is shown, as a browser shows it"
    no_runs_and_pages_work(live_client)
