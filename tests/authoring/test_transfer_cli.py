"""`torchquiz bank export/import --course`: the same transfer functions as the pages and the
API, on a database of each backend that the command opens itself."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.authoring import bank
from app.cli import main
from app.core.config import get_settings
from app.core.db import Database, create_db_engine, migrate_database
from app.courses import service as courses
from app.courses.models import Course
from app.questions.models import QuestionRow
from tests.authoring.test_course_practice import numeric
from tests.conftest import own_database
from tests.courses.support import make_user
from tests.formats.shipped import shipped_questions
from tests.formats.test_hostile_files import XXE


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Database]:
    """A database holding the courses `source` (three questions, one a code question) and
    `target` (empty), named by the settings the command reads."""
    for url in own_database(request.param, tmp_path_factory, "transfer_cli"):
        monkeypatch.setenv("TORCHQUIZ_DATABASE_URL", url)
        monkeypatch.setenv("TORCHQUIZ_INSTANCE_DIR", str(tmp_path_factory.mktemp("instance")))
        get_settings.cache_clear()
        engine = create_db_engine(url)
        migrate_database(url, engine)
        code = next(q for q in shipped_questions() if q.type == "code")
        with Database.on(engine).transaction() as db:
            owner = make_user(db, "owner@example.org")
            source = courses.create_course(db, owner.id, "Source")
            courses.create_course(db, owner.id, "Target")
            for question in (numeric("one", 1), numeric("two", 2), code):
                bank.create_question(db, source, question, author_id=owner.id, message="new")
        yield Database.on(engine)
        engine.dispose()
    get_settings.cache_clear()


def hashes(database: Database, slug: str) -> dict[str, str]:
    with database.transaction() as db:
        course = courses.find_course(db, slug)
        rows = db.scalars(select(QuestionRow).where(QuestionRow.course_id == course.id))
        return {row.slug: bank.version_of(db, row).content_hash for row in rows}


def slug_of(database: Database, title: str) -> str:
    with database.transaction() as db:
        return str(db.scalar(select(Course.slug).where(Course.title == title)))


def test_a_course_exported_then_imported_into_another_has_identical_content_hashes(
    database: Database, tmp_path: Path
) -> None:
    runner, out = CliRunner(), tmp_path / "bank.zip"
    source, target = slug_of(database, "Source"), slug_of(database, "Target")
    args = ["bank", "export", "--course", source, "--format", "yaml", "--output", str(out)]
    exported = runner.invoke(main, args)
    assert exported.exit_code == 0, exported.output
    assert "0 question(s) skipped" in exported.output
    assert len(zipfile.ZipFile(io.BytesIO(out.read_bytes())).namelist()) == 3
    base = ["bank", "import", str(out), "--format", "yaml", "--course", target]
    dry = runner.invoke(main, [*base, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "3 to create, 0 to change" in dry.output
    assert hashes(database, target) == {}
    done = runner.invoke(main, base)
    assert done.exit_code == 0, done.output
    assert "Imported 3 new question(s) as drafts" in done.output
    assert hashes(database, target) == hashes(database, source)
    again = runner.invoke(main, [*base, "--dry-run"])
    assert "0 to create, 0 to change, 3 unchanged" in again.output


def test_a_course_export_reports_what_a_format_cannot_carry(
    database: Database, tmp_path: Path
) -> None:
    out = tmp_path / "bank.gift"
    source = slug_of(database, "Source")
    args = ["bank", "export", "--course", source, "--format", "gift", "--output", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    code = next(q for q in shipped_questions() if q.type == "code")
    assert f"{code.id}:" in result.output
    assert "::one::" in out.read_text()


def test_a_hostile_file_is_refused_and_the_course_is_unchanged(
    database: Database, tmp_path: Path
) -> None:
    upload = tmp_path / "x.xml"
    upload.write_bytes(XXE)
    target = slug_of(database, "Target")
    args = ["bank", "import", str(upload), "--format", "moodle-xml", "--course", target]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "Cannot import x.xml: the XML declares" in result.output
    assert hashes(database, target) == {}


def test_an_unknown_course_is_named(database: Database, tmp_path: Path) -> None:
    args = ["bank", "export", "--course", "nope", "--format", "yaml", "--output", "x.zip"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "no course has the address" in result.output
