"""A course bank in and out of files over the API: a preview that writes nothing, a
confirmation bound to that very upload, hostile files refused with a clear 413 or 422 and
nothing changed, exports in every format with their report. On both databases."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.authoring import bank, transfer
from app.bank.formats import Parsed, yaml_zip
from app.bank.formats.preview import preview
from app.bank.formats.registry import NAMES
from app.bank.loader import content_hash
from app.bank.schema import AnyQuestion
from app.core.errors import AppError
from app.courses import service as courses
from app.courses.models import Course, CourseStaff, Enrolment
from app.questions.models import QuestionRow, QuestionVersion
from tests.authoring.test_course_practice import numeric
from tests.courses.support import Visitor, make_user, signed_in
from tests.formats.test_hostile_files import LAUGHS, XXE
from tests.formats.test_yaml_zip import zipped


def bank_zip(*questions: AnyQuestion) -> bytes:
    return yaml_zip.export(list(questions), bank_name="imported").data


def bank_rows(db: Session) -> list[tuple[Any, ...]]:
    """Every question and version row: what a refused import must leave as it was."""
    db.expire_all()
    versions = db.execute(
        select(
            QuestionVersion.question_id, QuestionVersion.number, QuestionVersion.content_hash
        ).order_by(QuestionVersion.id)
    ).all()
    rows = db.execute(
        select(QuestionRow.id, QuestionRow.current_version_id).order_by(QuestionRow.id)
    ).all()
    return [*map(tuple, rows), *map(tuple, versions)]


@pytest.fixture(name="world")
def world_fixture(app: FastAPI, db: Session) -> dict[str, Any]:
    """A course whose bank holds `kept` and `edited`; its owner, an editor, a content viewer
    and a learner."""
    owner = make_user(db, "owner@example.org")
    course = courses.create_course(db, owner.id, "Deep learning")
    people = {"owner": owner}
    for name, role in (("editor", "editor"), ("viewer", "viewer")):
        people[name] = make_user(db, f"{name}@example.org")
        db.add(
            CourseStaff(
                course_id=course.id, user_id=people[name].id, content_role=role, data_role="none"
            )
        )
    people["learner"] = make_user(db, "learner@example.org")
    db.add(Enrolment(course_id=course.id, user_id=people["learner"].id))
    for qid in ("kept", "edited"):
        bank.create_question(db, course, numeric(qid, 1), author_id=owner.id, message="new")
    db.commit()
    visitors = {name: signed_in(app, db, user) for name, user in people.items()}
    return {"course": course, "visitors": visitors}


def upload(
    visitor: Visitor, course: Course, data: bytes, fmt: str = "yaml", name: str = "bank.zip"
) -> Any:
    return visitor.client.post(
        f"/api/v1/courses/{course.slug}/imports",
        params={"format": fmt},
        files={"file": (name, data, "application/octet-stream")},
    )


def confirm(visitor: Visitor, course: Course, import_id: str) -> Any:
    return visitor.client.post(f"/api/v1/courses/{course.slug}/imports/{import_id}")


def test_a_preview_sorts_the_upload_against_the_bank_and_writes_nothing(
    world: dict[str, Any], db: Session
) -> None:
    course, editor = world["course"], world["visitors"]["editor"]
    before = bank_rows(db)
    data = bank_zip(numeric("kept", 1), numeric("edited", 2), numeric("fresh", 3))
    answer = upload(editor, course, data)
    assert answer.status_code == 201, answer.text
    found = answer.json()
    assert (found["create"], found["change"], found["unchanged"]) == (
        ["fresh"],
        ["edited"],
        ["kept"],
    )
    assert found["ok"] is True and found["conflicts"] == [] and found["problems"] == []
    assert len(found["sha256"]) == 64 and found["filename"] == "bank.zip"
    assert bank_rows(db) == before


def test_confirming_creates_drafts_and_new_versions_imported_from_the_file(
    world: dict[str, Any], db: Session
) -> None:
    course, editor = world["course"], world["visitors"]["editor"]
    data = bank_zip(numeric("kept", 1), numeric("edited", 2), numeric("fresh", 3))
    import_id = upload(editor, course, data).json()["import_id"]
    answer = confirm(editor, course, import_id)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"created": ["fresh"], "changed": ["edited"], "unchanged": ["kept"]}
    db.expire_all()
    for qid, number, value in (("fresh", 1, 3), ("edited", 2, 2), ("kept", 1, 1)):
        row = bank.find_question(db, course, qid)
        version = bank.version_of(db, row)
        assert (version.number, bank.model_of(version).answer.value) == (number, value), qid
        assert bank.status_of(row).state == "draft"
        if qid != "kept":
            assert version.message == "imported from bank.zip"
            assert version.author_id == world["visitors"]["editor"].user.id
    # Applied once: the same confirmation again finds nothing waiting.
    assert confirm(editor, course, import_id).status_code == 404


def test_a_confirmation_applies_only_its_own_preview_for_its_own_account_and_course(
    world: dict[str, Any], db: Session
) -> None:
    course, editor = world["course"], world["visitors"]["editor"]
    import_id = upload(editor, course, bank_zip(numeric("fresh", 3))).json()["import_id"]
    before = bank_rows(db)
    assert confirm(world["visitors"]["owner"], course, import_id).status_code == 404
    assert confirm(editor, course, "not-an-import").status_code == 404
    assert confirm(world["visitors"]["learner"], course, import_id).status_code == 403
    assert bank_rows(db) == before
    assert confirm(editor, course, import_id).status_code == 200


def test_a_bank_changed_since_the_preview_refuses_the_confirmation(
    world: dict[str, Any], db: Session
) -> None:
    course, editor = world["course"], world["visitors"]["editor"]
    import_id = upload(editor, course, bank_zip(numeric("kept", 5))).json()["import_id"]
    row = bank.find_question(db, course, "kept")
    assert row.current_version_id is not None
    bank.save_question(
        db,
        course,
        "kept",
        numeric("kept", 9),
        base_version_id=row.current_version_id,
        author_id=None,
        message="meanwhile",
    )
    db.commit()
    before = bank_rows(db)
    answer = confirm(editor, course, import_id)
    assert answer.status_code == 409
    assert "preview the file again" in answer.json()["message"]
    assert bank_rows(db) == before


def test_a_preview_with_problems_cannot_be_confirmed(world: dict[str, Any], db: Session) -> None:
    course, editor = world["course"], world["visitors"]["editor"]
    broken = upload(editor, course, zipped({"a/broken.yaml": "id: broken\ntype: numeric\n"}))
    found = broken.json()
    assert found["ok"] is False
    assert any(p["path"] == "a/broken.yaml" for p in found["problems"])
    before = bank_rows(db)
    answer = confirm(editor, course, found["import_id"])
    assert answer.status_code == 422
    assert "8 problem(s) and 0 conflict(s)" in answer.json()["message"]
    assert bank_rows(db) == before


def test_an_import_holding_one_id_twice_is_a_conflict_that_cannot_be_applied(
    world: dict[str, Any], db: Session
) -> None:
    """The formats rename a repeated id (`twice-2`); a parse that keeps both is refused."""
    course = world["course"]
    parsed = Parsed(questions=[numeric("twice", 1), numeric("twice", 2)])
    state = transfer.bank_state(db, course)
    pending = transfer.PendingImport(
        "x", course.id, None, "b.xml", "moodle-xml", "0" * 64, parsed, preview(parsed, state), state
    )
    assert [c.question for c in pending.preview.conflicts] == ["twice"]
    before = bank_rows(db)
    with pytest.raises(AppError, match="0 problem\\(s\\) and 1 conflict") as refused:
        transfer.apply_import(db, course, pending)
    assert refused.value.status == 422
    assert bank_rows(db) == before


def _traversal() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("../../etc/evil.yaml"), "id: x\n")
    return buffer.getvalue()


HOSTILE = {
    "malformed-xml": (
        "moodle-xml",
        b"<quiz><question type='multichoice'></quiz>",
        422,
        "malformed at line 1",
    ),
    "xxe": ("moodle-xml", XXE, 422, "no DTDs or entities"),
    "billion-laughs": ("moodle-xml", LAUGHS, 422, "no DTDs or entities"),
    "qti-xxe": ("qti21", zipped({"imsmanifest.xml": XXE}), 422, "no DTDs or entities"),
    "zip-bomb": (
        "yaml",
        zipped({"rnn/bomb.yaml": b"a" * (20 * 1024 * 1024)}),
        422,
        "compressed suspiciously far",
    ),
    "traversal": ("yaml", _traversal(), 422, "points outside the bank"),
    "not-a-zip": ("yaml", b"id: x\n", 422, "not a readable zip"),
    "not-utf8-gift": ("gift", "::q::Caf\u00e9?{=yes}".encode("latin-1"), 422, "not UTF-8"),
    "oversized": ("gift", b" " * (21 * 1024 * 1024), 413, "larger than the limit"),
}


def test_an_upload_larger_than_other_requests_may_be_is_read_and_judged_by_its_content(
    world: dict[str, Any],
) -> None:
    """2 MiB, twice what any other request may send (a 500-question Moodle file is ~2 MB)."""
    answer = upload(
        world["visitors"]["editor"], world["course"], b" " * (2 * 1024 * 1024), fmt="gift"
    )
    assert answer.status_code != 413, answer.text


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_or_malformed_file_gets_a_clear_error_and_changes_nothing(
    case: str, world: dict[str, Any], db: Session, app: FastAPI
) -> None:
    fmt, data, status, words = HOSTILE[case]
    course, editor = world["course"], world["visitors"]["editor"]
    before = bank_rows(db)
    answer = upload(editor, course, data, fmt=fmt, name=f"{case}.bin")
    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]
    assert "root:" not in answer.text and "Traceback" not in answer.text
    assert bank_rows(db) == before


def test_an_unknown_format_is_refused_naming_the_formats(world: dict[str, Any]) -> None:
    answer = upload(world["visitors"]["editor"], world["course"], b"x", fmt="qti30")
    assert answer.status_code == 422
    assert "format" in answer.text


def test_a_file_over_the_upload_limit_is_refused_with_413_before_it_is_parsed() -> None:
    from app.authoring.transfer import UploadTooLargeError, read_upload
    from app.bank.formats.safety import MAX_UPLOAD_BYTES

    with pytest.raises(UploadTooLargeError, match="the limit is") as refused:
        read_upload("yaml", b"\0" * (MAX_UPLOAD_BYTES + 1), "big.zip")
    assert refused.value.status == 413


@pytest.mark.parametrize("fmt", NAMES)
def test_the_bank_exports_in_every_format_with_its_report(fmt: str, world: dict[str, Any]) -> None:
    course, viewer = world["course"], world["visitors"]["viewer"]
    answer = viewer.client.get(f"/api/v1/courses/{course.slug}/export", params={"format": fmt})
    assert answer.status_code == 200, answer.text
    assert answer.content
    assert "attachment; filename=" in answer.headers["content-disposition"]
    report = json.loads(answer.headers["x-export-report"])
    assert report == {"skipped": [], "fallbacks": []}


def test_an_export_of_selected_ids_holds_only_those(world: dict[str, Any]) -> None:
    course, viewer = world["course"], world["visitors"]["viewer"]
    answer = viewer.client.get(
        f"/api/v1/courses/{course.slug}/export", params={"format": "yaml", "ids": ["kept"]}
    )
    assert answer.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert names == [f"{course.slug}/kept.yaml"]
    missing = viewer.client.get(
        f"/api/v1/courses/{course.slug}/export", params={"format": "yaml", "ids": ["nope"]}
    )
    assert missing.status_code == 404 and "nope" in missing.text


def test_a_code_question_left_out_of_a_moodle_export_is_named_in_the_report(
    world: dict[str, Any], db: Session
) -> None:
    from tests.formats.shipped import shipped_questions

    code = next(q for q in shipped_questions() if q.type == "code")
    bank.create_question(db, world["course"], code, author_id=None, message="copied")
    db.commit()
    answer = world["visitors"]["viewer"].client.get(
        f"/api/v1/courses/{world['course'].slug}/export", params={"format": "gift"}
    )
    report = json.loads(answer.headers["x-export-report"])
    named = [left["question"] for left in report["skipped"] + report["fallbacks"]]
    assert named == [code.id]
    assert all(left["reason"] for left in report["skipped"] + report["fallbacks"])


def test_an_export_then_import_into_another_course_gives_identical_content_hashes(
    world: dict[str, Any], db: Session, app: FastAPI
) -> None:
    from tests.formats.shipped import shipped_questions

    course, owner = world["course"], world["visitors"]["owner"]
    for question in shipped_questions()[:12]:
        bank.create_question(db, course, question, author_id=None, message="copied")
    other = courses.create_course(db, owner.user.id, "Another course")
    db.commit()
    exported = owner.client.get(f"/api/v1/courses/{course.slug}/export", params={"format": "yaml"})
    preview = upload(owner, other, exported.content).json()
    assert preview["ok"], preview
    assert confirm(owner, other, preview["import_id"]).status_code == 200

    def hashes(of: Course) -> dict[str, str]:
        db.expire_all()
        rows = db.scalars(select(QuestionRow).where(QuestionRow.course_id == of.id))
        return {row.slug: bank.version_of(db, row).content_hash for row in rows}

    assert hashes(other) == hashes(course)
    assert len(hashes(other)) == 14
    assert all(
        digest
        == content_hash(bank.model_of(bank.version_of(db, bank.find_question(db, other, qid))))
        for qid, digest in hashes(other).items()
    )
    assert (
        db.scalar(
            select(func.count()).select_from(QuestionRow).where(QuestionRow.course_id == other.id)
        )
        == 14
    )
