"""The authoring service shared by the editor pages and the API: a question from what an author
sent (JSON or YAML, the same messages as `torchquiz questions check`), copies of shipped
questions, bulk tagging, the bank list, and verify against the test app's real runner. On both
databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.authoring import bank, service
from app.bank.loader import Problem, content_hash, parse_text
from app.bank.schema import QuestionAdapter
from app.core.deps import get_database
from app.core.errors import NotFoundError
from app.courses import service as courses
from app.courses.models import Course
from app.questions.models import QuestionVersion
from app.runner.client import RunnerClient, RunnerState
from tests.authoring.test_bank_api import GOOD_YAML, WRONG_YAML
from tests.courses.support import make_user
from tests.in_thread import run_coroutine

GOOD: dict[str, Any] = yaml.safe_load(GOOD_YAML)
SHIPPED = Path(__file__).resolve().parents[2] / "questions/birnn/gru-stacked-bidir-param-count.yaml"


@pytest.fixture
def course(db: Session) -> Course:
    owner = make_user(db, "owner@example.org")
    return courses.create_course(db, owner.id, "Deep learning")


def test_a_question_as_json_and_as_yaml_are_the_same_question() -> None:
    from_yaml = service.question_from({"yaml": GOOD_YAML})
    assert service.question_from(GOOD) == from_yaml
    assert service.question_from({"question": GOOD}) == from_yaml


def test_a_float_sent_as_json_stays_a_float() -> None:
    """JSON's 1e-05 read back as YAML 1.1 text would be a string, and refused."""
    source = yaml.safe_load(SHIPPED.read_text())
    source["answer"] = {"value": 3360.0, "tolerance": 1e-05}
    question = service.question_from(source)
    assert question.answer.tolerance == 1e-05  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "data",
    [
        {**GOOD, "type": "essay"},
        {**GOOD, "options": ["a"]},
        {**GOOD, "hints": [], "difficulty": "extreme"},
        {key: value for key, value in GOOD.items() if key != "prompt"},
    ],
    ids=["unknown type", "unknown field", "two invalid fields", "missing field"],
)
def test_json_gets_the_messages_torchquiz_questions_check_gives(data: dict[str, Any]) -> None:
    expected: list[Problem] = []
    parse_text(yaml.safe_dump(data), "question", QuestionAdapter, expected)
    assert expected
    with pytest.raises(service.InvalidQuestionError) as refused:
        service.question_from(data)
    assert refused.value.errors == [{"field": p.field, "message": p.message} for p in expected]
    assert refused.value.status == 422
    assert refused.value.field == expected[0].field


def test_a_copied_template_keeps_its_variants_and_its_source_content_hash(
    db: Session, course: Course, app: FastAPI
) -> None:
    catalog = app.state.catalog
    shipped = catalog.question("bilstm-hn-shape-random-sizes")
    assert shipped.template is not None  # a question with variants, as its file states it
    row = service.copy_shipped(db, course, catalog, shipped.slug, author_id=None)
    version = bank.version_of(db, row)
    assert version.content_hash == content_hash(shipped.source)
    assert bank.model_of(version).variants is not None
    assert "shipped" in (version.message or "")


def test_bulk_tag_with_an_unknown_question_is_refused_by_name(db: Session, course: Course) -> None:
    bank.create_question(db, course, service.question_from(GOOD), author_id=None, message="created")
    with pytest.raises(NotFoundError, match="nope"):
        service.bulk_tag(db, course, ["gru-h-n", "nope"], ["x"], [], None)


def test_bulk_tag_makes_no_version_when_nothing_changes(db: Session, course: Course) -> None:
    row = bank.create_question(
        db, course, service.question_from(GOOD), author_id=None, message="created"
    )
    assert service.bulk_tag(db, course, ["gru-h-n"], ["gru"], [], None) == []
    count = select(func.count()).where(QuestionVersion.question_id == row.id)
    assert db.scalar(count) == 1
    assert service.bulk_tag(db, course, ["gru-h-n"], ["new-tag"], [], None) == ["gru-h-n"]
    assert db.scalar(count) == 2
    assert bank.version_of(db, row).message == "tagged new-tag"


def test_verify_current_records_torchs_answer_on_the_newest_version_and_the_list_shows_it(
    db: Session, course: Course, app: FastAPI, runner_url: str
) -> None:
    user = make_user(db, "editor@example.org")
    bank.create_question(db, course, service.question_from(GOOD), author_id=None, message="")
    bank.create_question(
        db,
        course,
        service.question_from({"yaml": WRONG_YAML.replace("gru-h-n", "off-by-one")}),
        author_id=None,
        message="",
    )
    db.flush()
    database = app.dependency_overrides[get_database]()

    async def verify(slug: str) -> None:
        runner = RunnerClient(runner_url)  # of this event loop
        try:
            ready = RunnerState(state="ready", torch="tested")
            await service.verify_current(database, runner, ready, course.id, slug, user.id)
        finally:
            await runner.aclose()

    for slug in ("gru-h-n", "off-by-one"):
        run_coroutine(lambda slug=slug: verify(slug))
    db.expire_all()
    listed = {i.slug: i.verify for i in service.list_questions(db, course)}
    assert listed == {"gru-h-n": "passed", "off-by-one": "failed"}
    failed = service.list_questions(db, course, verified="failed")
    assert [i.slug for i in failed] == ["off-by-one"]
    row = bank.find_question(db, course, "off-by-one")
    recorded = bank.latest_verification(db, bank.version_of(db, row).id)
    assert recorded is not None and recorded.run_by == user.id
    assert (recorded.torch_version, recorded.seeds) == ("tested", 20)
    assert any("33" in claim["claims"] for claim in recorded.claims if not claim["passed"])
