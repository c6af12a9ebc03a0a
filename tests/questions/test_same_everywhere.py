"""The same (version, seed) renders and grades byte-identically in every process and on both
databases: a learner's view, and the grading of its key and of a wrong answer, built from the
stored version rows of each database, and again in a fresh Python process."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.bank.grading import grade
from app.bank.schema import AnyQuestion, CodeQuestion, QuestionAdapter
from app.core.config import PROJECT_DIR
from app.core.errors import AnswerFormatError
from app.questions.models import QuestionVersion
from app.questions.service import practice_question
from tests.api.test_sessions_api import right_answer
from tests.conftest import Backends

SCRIPT = """
import json, sys
from app.bank.schema import QuestionAdapter
from tests.questions.test_same_everywhere import fingerprint
rows = json.load(sys.stdin)
found = {key: fingerprint(QuestionAdapter.validate_python(data)) for key, data in rows.items()}
print(json.dumps(found))
"""


def fingerprint(question: AnyQuestion) -> str:
    """What a learner is shown, what the key scores and what a wrong answer scores (or the
    words that refuse it), as one string."""
    view = practice_question(question).model_dump_json()
    if isinstance(question, CodeQuestion):  # graded from a run: tests/runner covers the runs
        return view
    if question.variants is not None and getattr(question, "answer", None) is None:
        return view  # a template: its variants, stored with their seeds, have the answers
    key = grade(question, right_answer(question))
    try:
        wrong: Any = grade(question, "0")
        wrong = [wrong.score, wrong.correct]
    except AnswerFormatError as exc:  # refused, as the learner would see it
        wrong = exc.message
    return json.dumps([view, key.score, key.correct, wrong], sort_keys=True, default=str)


def stored(url: str) -> dict[str, Any]:
    """Every stored version (shipped questions and their variants), keyed by (slug, seed)."""
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            rows = db.scalars(select(QuestionVersion).order_by(QuestionVersion.id))
            return {f"{row.data['id']}:{row.seed}:{row.content_hash}": row.data for row in rows}
    finally:
        engine.dispose()


def test_every_version_renders_and_grades_alike_on_both_databases_and_in_a_new_process(
    backends: Backends,
) -> None:
    urls = {}
    for backend in ("sqlite", "postgresql"):  # both started: migrated, synced, variants stored
        settings = backends.settings(backend)
        backends.started_app(settings)
        urls[backend] = settings.database_url
    sqlite, postgres = stored(urls["sqlite"]), stored(urls["postgresql"])
    common = sorted(set(sqlite) & set(postgres))
    assert len(common) >= 48, "the shipped bank (and its variants) is on both databases"
    here = {key: fingerprint(QuestionAdapter.validate_python(sqlite[key])) for key in common}
    assert here == {
        key: fingerprint(QuestionAdapter.validate_python(postgres[key])) for key in common
    }
    other = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=json.dumps({key: sqlite[key] for key in common}),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},  # another hash seed than this process's
        cwd=PROJECT_DIR,
    )
    assert json.loads(other.stdout) == here
