"""Parameterised questions in the running app: variants stored as versions, answers from torch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.attempts.models import QuizSession
from app.bank.schema import TensorShape
from app.bank.variants import draw, format_answer
from app.core.db import create_db_engine
from app.main import create_app
from app.questions.models import QuestionVersion
from tests.conftest import _scratch_postgres, make_settings, until_ready

SHAPES = "bilstm-hn-shape-random-sizes"
COUNT = "bilstm-param-count-random-sizes"


def variant_rows(db: Session, app: FastAPI, slug: str) -> list[QuestionVersion]:
    template_id = _template_id(db, app, slug)
    query = select(QuestionVersion).where(QuestionVersion.variant_of_id == template_id)
    return list(db.scalars(query.order_by(QuestionVersion.id)))


def _template_id(db: Session, app: FastAPI, slug: str) -> int:
    variant = db.get(QuestionVersion, app.state.catalog.question(slug).version_id)
    assert variant is not None and variant.variant_of_id is not None
    return variant.variant_of_id


def test_every_variant_answer_is_what_torch_computes(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    question = catalog.question(SHAPES)
    rows = variant_rows(db, app, SHAPES)
    assert len(rows) == len(question.variant_ids) == 16
    assert question.template is not None
    for row in rows:
        values = draw(question.template, row.seed)
        lstm = torch.nn.LSTM(
            values["features"],
            values["hidden"],
            values["layers"],
            bidirectional=True,
            batch_first=True,
        )
        _, (h_n, _) = lstm(torch.randn(values["batch"], values["seq_len"], values["features"]))
        model = catalog.version(db, row.id)
        assert isinstance(model, TensorShape)
        assert model.answer == list(h_n.shape) == row.data["answer"]
        assert row.torch_version == torch.__version__
        assert "{{" not in model.prompt and f"hidden_size={values['hidden']}" in model.prompt


def test_numeric_variants_hold_the_real_parameter_count(app: FastAPI, db: Session) -> None:
    question = app.state.catalog.question(COUNT)
    assert question.template is not None
    for row in variant_rows(db, app, COUNT):
        values = draw(question.template, row.seed)
        lstm = torch.nn.LSTM(
            values["features"], values["hidden"], values["layers"], bidirectional=True
        )
        assert row.data["answer"]["value"] == sum(p.numel() for p in lstm.parameters())


def start_practice(client: TestClient) -> tuple[str, int]:
    """A practice session over the medium questions, and the position of the shapes template."""
    session = client.post(
        "/api/v1/sessions", json={"topic": "birnn", "mode": "practice", "difficulty": "medium"}
    ).json()
    for position in range(1, session["total"] + 1):
        item = client.get(f"/api/v1/sessions/{session['id']}/questions/{position}").json()
        if item["question"]["id"] == SHAPES:
            return session["id"], position
    raise AssertionError(f"{SHAPES} is not in the medium practice session")


def session_version(db: Session, session_id: str, position: int) -> int:
    row = db.scalar(select(QuizSession).where(QuizSession.public_id == session_id))
    assert row is not None
    return row.version_ids[position - 1]


def test_a_variant_stays_the_same_on_reload_and_is_graded_by_its_own_answer(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    session_id, position = start_practice(client)
    url = f"/api/v1/sessions/{session_id}/questions/{position}"
    shown = [client.get(url).json()["question"]["prompt_html"] for _ in range(3)]
    assert shown[0] == shown[1] == shown[2] and "{{" not in shown[0]
    version_id = session_version(db, session_id, position)
    assert version_id in app.state.catalog.question(SHAPES).variant_ids
    variant = app.state.catalog.version(db, version_id)
    assert isinstance(variant, TensorShape) and variant.answer is not None
    page = client.get(f"/practice/{session_id}/{position}")
    assert page.status_code == 200 and "{{" not in page.text
    input_line = next(line for line in variant.prompt.splitlines() if "randn" in line)
    assert input_line.strip() in re.sub(r"<[^>]+>", "", page.text)  # highlighted code

    answers = f"/api/v1/sessions/{session_id}/answers"
    wrong = client.post(answers, json={"position": position, "answer": [*variant.answer, 1]})
    assert wrong.json()["correct"] is False
    right = client.post(answers, json={"position": position, "answer": variant.answer})
    assert right.json()["correct"] is True, right.json()
    assert format_answer(variant.answer) in right.json()["solution"]["final_answer_html"]


def test_sessions_draw_different_variants(app: FastAPI, client: TestClient, db: Session) -> None:
    drawn = {session_version(db, *start_practice(client)) for _ in range(12)}
    assert len(drawn) > 1 and drawn <= set(app.state.catalog.question(SHAPES).variant_ids)


# --- start-up: stored variants reused, a new torch computes them again, running code off ---


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'variants.sqlite3'}"
    else:
        yield from _scratch_postgres()


def started(url: str, tmp_path: Path, runner_url: str | None) -> FastAPI:
    app = create_app(make_settings(url, tmp_path, runner_url=runner_url or ""))
    with TestClient(app) as client:
        until_ready(client)
        return app


def all_variants(url: str) -> list[tuple[int, int | None, str | None]]:
    engine = create_db_engine(url)
    with Session(engine) as db:
        query = select(QuestionVersion).where(QuestionVersion.variant_of_id.is_not(None))
        rows = [(r.id, r.seed, r.torch_version) for r in db.scalars(query)]
    engine.dispose()
    return rows


def test_a_restart_reuses_stored_variants_even_with_running_code_off(
    fresh_url: str, tmp_path: Path, runner_url: str
) -> None:
    first = started(fresh_url, tmp_path, runner_url)
    stored = all_variants(fresh_url)
    assert len(stored) == 16 + 12
    again = started(fresh_url, tmp_path, "off")
    assert all_variants(fresh_url) == stored
    for slug in (SHAPES, COUNT):
        assert again.state.catalog.question(slug).variant_ids == (
            first.state.catalog.question(slug).variant_ids
        )


def test_a_new_torch_version_computes_the_variants_again(
    fresh_url: str, tmp_path: Path, runner_url: str
) -> None:
    started(fresh_url, tmp_path, runner_url)
    engine = create_db_engine(fresh_url)
    with Session(engine) as db, db.begin():
        db.execute(
            update(QuestionVersion)
            # as an older torch would have stored them: another version, so another hash
            .values(
                torch_version="1.0.0",
                content_hash="x" + func.substr(QuestionVersion.content_hash, 2),
            )
            .where(QuestionVersion.variant_of_id.is_not(None))
        )
    engine.dispose()
    app = started(fresh_url, tmp_path, runner_url)
    rows = all_variants(fresh_url)
    assert sorted(v for _, _, v in rows) == ["1.0.0"] * 28 + [torch.__version__] * 28
    new_ids = {i for i, _, v in rows if v == torch.__version__}
    assert set(app.state.catalog.question(SHAPES).variant_ids) <= new_ids


def test_without_a_runner_or_stored_variants_templates_are_left_out(
    fresh_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = started(fresh_url, tmp_path, None)
    slugs = {q.slug for q in app.state.catalog.topic("birnn").questions}
    assert SHAPES not in slugs and COUNT not in slugs
    assert "output-shape-batch-first" in slugs
    assert f"question {SHAPES} left out" in caplog.text
