"""`torchquiz bank export` and `torchquiz bank import`, through click's runner."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.bank.formats import moodle_xml
from app.bank.loader import load_bank
from app.cli import main
from app.core.config import get_settings
from tests.formats.shipped import FIXTURES, PROJECT, shipped_bank, shipped_questions


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def shipped_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The settings name the shipped bank (as they do by default)."""
    monkeypatch.setenv("TORCHQUIZ_QUESTIONS_DIR", str(PROJECT / "questions"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("fmt", ["yaml", "moodle-xml", "gift"])
def test_export_writes_the_shipped_bank_and_reports_what_it_left(
    runner: CliRunner, tmp_path: Path, shipped_default: None, fmt: str
) -> None:
    output = tmp_path / "bank.out"
    result = runner.invoke(main, ["bank", "export", "--format", fmt, "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert output.stat().st_size > 1000
    assert f"Wrote {output} ({fmt})" in result.output
    if fmt != "yaml":
        variant = next(q.id for q in shipped_questions() if q.variants is not None)
        assert f"Skipped {variant}: its answer is computed by torch" in result.output
        code = next(q.id for q in shipped_questions() if q.type == "code")
        assert f"Fallback {code}: exported as an essay" in result.output


def test_export_of_an_unknown_topic_names_the_topics(runner: CliRunner, tmp_path: Path) -> None:
    bank = str(PROJECT / "questions")
    args = ["bank", "export", "--format", "yaml", "--output", str(tmp_path / "x.zip")]
    result = runner.invoke(main, [*args, "--bank", bank, "--topic", "cnn"])
    assert result.exit_code == 2
    assert "the bank has no topic 'cnn'; its topics are: birnn" in result.output
    assert not (tmp_path / "x.zip").exists()


def test_a_dry_run_of_our_own_export_changes_nothing(
    runner: CliRunner, tmp_path: Path, shipped_default: None
) -> None:
    output = tmp_path / "bank.zip"
    runner.invoke(main, ["bank", "export", "--format", "yaml", "--output", str(output)])
    result = runner.invoke(main, ["bank", "import", str(output), "--format", "yaml", "--dry-run"])
    assert result.exit_code == 0, result.output
    count = shipped_bank().question_count()
    assert f"0 to create, 0 to change, {count} unchanged, 0 conflict(s), 0 problem(s)" in (
        result.output
    )


def test_import_into_an_empty_folder_writes_a_bank_that_loads_with_the_same_hashes(
    runner: CliRunner, tmp_path: Path, shipped_default: None
) -> None:
    output, into = tmp_path / "bank.zip", tmp_path / "copy"
    runner.invoke(main, ["bank", "export", "--format", "yaml", "--output", str(output)])
    args = ["bank", "import", str(output), "--format", "yaml", "--into", str(into)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    copied = load_bank(into)
    before = {q.question.id: q.content_hash for q in shipped_bank().topics["birnn"].questions}
    assert {q.question.id: q.content_hash for q in copied.topics["birnn"].questions} == before
    again = runner.invoke(main, [*args, "--dry-run"])
    assert f"0 to create, 0 to change, {len(before)} unchanged" in again.output


def test_a_moodle_import_previews_changes_against_the_target_folder(
    runner: CliRunner, tmp_path: Path
) -> None:
    into = tmp_path / "bank"
    shutil.copytree(PROJECT / "questions" / "birnn", into / "birnn")
    gradable = next(q for q in shipped_questions() if q.type == "single_choice")
    changed = gradable.model_copy(update={"prompt": gradable.prompt + " (edited in Moodle)"})
    upload = tmp_path / "upload.xml"
    upload.write_bytes(moodle_xml.export([changed], bank_name="u").data)
    args = ["bank", "import", str(upload), "--format", "moodle-xml", "--into", str(into)]
    preview = runner.invoke(main, [*args, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert f"Change: {gradable.id}" in preview.output
    written = runner.invoke(main, args)
    assert written.exit_code == 0, written.output
    text = (into / "birnn" / f"{gradable.id}.yaml").read_text(encoding="utf-8")
    assert "(edited in Moodle)" in text


def test_an_import_with_problems_exits_1_and_writes_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    into = tmp_path / "bank"
    args = ["bank", "import", str(FIXTURES / "gift_foreign.txt"), "--format", "gift"]
    result = runner.invoke(main, [*args, "--into", str(into)])
    assert result.exit_code == 1
    assert "6 to create" in result.output and "2 problem(s)" in result.output
    assert "Problem: question 7 'Match': type:" in result.output
    assert not into.exists()


def test_a_hostile_file_is_refused_with_its_reason(runner: CliRunner, tmp_path: Path) -> None:
    upload = tmp_path / "x.xml"
    upload.write_bytes(b'<!DOCTYPE quiz [<!ENTITY e SYSTEM "file:///etc/passwd">]><quiz/>')
    args = ["bank", "import", str(upload), "--format", "moodle-xml", "--dry-run"]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "Cannot import x.xml: the XML declares" in result.output


def test_import_asks_for_dry_run_or_into_and_not_both_a_course_and_a_folder(
    runner: CliRunner, tmp_path: Path
) -> None:
    upload = str(FIXTURES / "gift_foreign.txt")
    neither = runner.invoke(main, ["bank", "import", upload, "--format", "gift"])
    assert neither.exit_code == 2 and "--dry-run" in neither.output
    both = ["--course", "c", "--into", str(tmp_path / "bank")]
    course = runner.invoke(main, ["bank", "import", upload, "--format", "gift", *both])
    assert course.exit_code == 2 and "leave out --into" in course.output


def test_qti30_is_refused_for_import_as_export_only(runner: CliRunner, tmp_path: Path) -> None:
    upload = tmp_path / "package.zip"
    upload.write_bytes(b"PK")
    result = runner.invoke(main, ["bank", "import", str(upload), "--format", "qti30", "--dry-run"])
    assert result.exit_code == 1
    assert "the format 'qti30' can be exported, not imported" in result.output
