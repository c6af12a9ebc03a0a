"""No HTML form answers 5xx, whatever its fields hold: Hypothesis fills every field of every
form (and every query-string form) with any text at all (NUL, lone surrogates, 400 digits)
or any integer, with a valid CSRF token, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from app.lab import form as lab_form
from app.playground import form as playground_form
from tests.hardening.support import (
    EDGE_INTS,
    EDGE_TEXTS,
    URL_EDGE_TEXTS,
    bounded,
    csrf,
    hostile_form,
)

# A field holds an edge value, any text or any integer. Posted forms can carry any str (see
# hostile_form); a query string only what a URL carries.
NUMBERS = st.integers().map(str)
EDGES = [*map(str, EDGE_INTS), "1e309", "NaN"]
POSTED_VALUES = st.one_of(
    st.sampled_from([*EDGE_TEXTS, *EDGES]),
    st.text(st.characters(exclude_categories=()), max_size=100),
    NUMBERS,
)
QUERY_VALUES = st.one_of(
    st.sampled_from([*URL_EDGE_TEXTS, *EDGES]),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=100),
    NUMBERS,
)
LAB_FIELDS = [*lab_form.LABELS, "preset"]
PLAYGROUND_FIELDS = [*playground_form.LABELS, *playground_form.FLAGS]
# Each form: where it posts (with the ids of a practice and a test session) and its fields.
POSTED = {
    "practice start": ("/topics/birnn/practice", ["difficulty", "tag"]),
    "test start": ("/topics/birnn/test", []),
    "mistakes": ("/topics/birnn/mistakes", []),
    "practice answer": ("/practice/{practice}/{position}", ["answer", "shown_at", "go"]),
    "practice run": ("/practice/{practice}/{position}/run", ["code", "answer"]),
    "practice hint": ("/practice/{practice}/{position}/hints", ["number", "answer"]),
    "practice solution": ("/practice/{practice}/{position}/solution", ["answer"]),
    "practice samples": ("/practice/{practice}/{position}/samples", ["answer", "shown_at"]),
    "test answer": ("/tests/{test}/{position}", ["answer", "shown_at", "go", "flag"]),
    "test samples": ("/tests/{test}/{position}/samples", ["answer", "shown_at"]),
    "test finish": ("/tests/{test}/finish", []),
    "lab run": ("/topics/birnn/lab", LAB_FIELDS),
    "lab code": ("/topics/birnn/lab/code", ["code", "code_seed", "code_task"]),
}
QUERIED = {
    "practice page": ("/practice/{practice}/{position}", ["answer"]),
    "test page": ("/tests/{test}/{position}", ["saved"]),
    "lab page": ("/topics/birnn/lab", LAB_FIELDS),
    "playground": ("/playground", PLAYGROUND_FIELDS),
}
BOUNDED = bounded(30)


@pytest.fixture
def learner(live_client: TestClient, lab_queue_full: None) -> dict[str, str]:
    """A new learner with a practice and a test session, and the CSRF token of their forms."""
    live_client.cookies.clear()
    ids = {"token": csrf(live_client.get("/topics/birnn/practice").text)}
    for mode in ("practice", "test"):
        body = {"topic": "birnn", "mode": mode}
        ids[mode] = live_client.post("/api/v1/sessions", json=body).json()["id"]
    return ids


def fields_of(names: list[str], value: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Any subset of the fields, each with any value; answers may come several at once."""
    optional = {name: st.lists(value, max_size=3) if name == "answer" else value for name in names}
    return st.fixed_dictionaries({}, optional=optional)


def url_of(template: str, ids: dict[str, str], position: int) -> str:
    return template.format(practice=ids["practice"], test=ids["test"], position=position)


def answers_without_5xx(response: Any) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:2000]}"


@pytest.mark.parametrize("name", POSTED)
def test_no_posted_form_answers_5xx_whatever_its_fields_hold(
    live_client: TestClient, learner: dict[str, str], name: str
) -> None:
    template, names = POSTED[name]

    @BOUNDED
    @given(fields=fields_of(names, POSTED_VALUES), position=st.integers(1, 48))
    def posts(fields: dict[str, Any], position: int) -> None:
        form = hostile_form({"csrf_token": learner["token"], **fields})
        url = url_of(template, learner, position)
        answers_without_5xx(live_client.post(url, **form, follow_redirects=False))

    posts()
    assert live_client.get("/topics/birnn/lab").status_code == 200, "the pages still work"
    assert live_client.get("/topics/birnn/mistakes").status_code == 200


@pytest.mark.parametrize("name", QUERIED)
def test_no_query_string_form_answers_5xx_whatever_its_fields_hold(
    live_client: TestClient, learner: dict[str, str], name: str
) -> None:
    template, names = QUERIED[name]

    @BOUNDED
    @given(fields=fields_of(names, QUERY_VALUES), position=st.integers(1, 48))
    def asks(fields: dict[str, Any], position: int) -> None:
        url = url_of(template, learner, position)
        answers_without_5xx(live_client.get(url, params=fields))

    asks()
