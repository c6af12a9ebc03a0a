"""The import and export pages of a course's bank: a preview page that writes nothing, a
confirmation, hostile files refused on the form with their status, an export's report and
its download. On both databases."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.authoring import bank
from app.courses.models import Course
from tests.authoring.test_course_practice import numeric
from tests.authoring.test_transfer_api import HOSTILE, bank_rows, bank_zip, world_fixture  # noqa: F401
from tests.courses.support import Visitor


def upload_form(
    visitor: Visitor, course: Course, data: bytes | None, fmt: str = "yaml", name: str = "b.zip"
) -> Any:
    files = {"file": (name, data, "application/octet-stream")} if data is not None else None
    return visitor.client.post(
        f"/courses/{course.slug}/import",
        data={"format": fmt, "csrf_token": visitor.csrf},
        files=files,
    )


def import_id_of(page: str) -> str:
    marker = "/import/"
    start = page.index(marker, page.index("Confirm the import") - 600) + len(marker)
    return page[start : page.index('"', start)]


def test_the_import_page_shows_a_labelled_upload_form(world: dict[str, Any]) -> None:
    page = world["visitors"]["editor"].client.get(f"/courses/{world['course'].slug}/import")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    assert '<label for="file">File</label>' in page.text
    assert '<label for="format">Format</label>' in page.text


def test_an_upload_shows_its_preview_and_a_confirmation_imports_it(
    world: dict[str, Any], db: Session
) -> None:
    course, editor = world["course"], world["visitors"]["editor"]
    before = bank_rows(db)
    data = bank_zip(numeric("kept", 1), numeric("edited", 2), numeric("fresh", 3))
    page = upload_form(editor, course, data)
    assert page.status_code == 200, page.text
    assert "1 to create, 1 to change, 1 unchanged" in page.text
    assert "<code>fresh</code>" in page.text and "Confirm the import" in page.text
    assert bank_rows(db) == before
    done = editor.form(f"/courses/{course.slug}/import/{import_id_of(page.text)}")
    assert done.status_code == 303
    shown = editor.client.get(done.headers["location"])
    assert "Imported: 1 new question(s) saved as drafts, 1 changed." in shown.text
    db.expire_all()
    version = bank.version_of(db, bank.find_question(db, course, "fresh"))
    assert version.message == "imported from b.zip"


def test_a_preview_with_problems_offers_no_confirmation(world: dict[str, Any]) -> None:
    course, editor = world["course"], world["visitors"]["editor"]
    from tests.formats.test_yaml_zip import zipped

    page = upload_form(editor, course, zipped({"a/broken.yaml": "id: broken\ntype: numeric\n"}))
    assert page.status_code == 200
    assert "a/broken.yaml" in page.text and "Field required" in page.text
    assert "Confirm the import" not in page.text
    assert "cannot be imported as it is" in page.text


@pytest.mark.parametrize("case", ["xxe", "billion-laughs", "zip-bomb", "traversal", "oversized"])
def test_a_hostile_file_is_refused_on_the_form_with_its_status_and_nothing_changes(
    case: str, world: dict[str, Any], db: Session
) -> None:
    fmt, data, status, words = HOSTILE[case]
    course, editor = world["course"], world["visitors"]["editor"]
    before = bank_rows(db)
    page = upload_form(editor, course, data, fmt=fmt, name=f"{case}.bin")
    assert page.status_code == status
    assert words in page.text
    assert "Traceback" not in page.text
    assert bank_rows(db) == before


def test_a_form_without_a_file_asks_for_one(world: dict[str, Any]) -> None:
    page = upload_form(world["visitors"]["editor"], world["course"], None)
    assert page.status_code == 422
    assert "Choose a file to import." in page.text
    assert 'aria-invalid="true"' in page.text


def test_a_confirmation_of_a_preview_no_longer_waiting_says_to_preview_again(
    world: dict[str, Any], db: Session
) -> None:
    course, editor = world["course"], world["visitors"]["editor"]
    before = bank_rows(db)
    page = editor.form(f"/courses/{course.slug}/import/gone")
    assert page.status_code == 404
    assert "preview the file again" in page.text
    assert bank_rows(db) == before


def test_the_export_page_shows_the_report_and_links_the_download(
    world: dict[str, Any], db: Session
) -> None:
    from tests.formats.shipped import shipped_questions

    course, viewer = world["course"], world["visitors"]["viewer"]
    code = next(q for q in shipped_questions() if q.type == "code")
    bank.create_question(db, course, code, author_id=None, message="copied")
    db.commit()
    form = viewer.client.get(f"/courses/{course.slug}/export")
    assert form.status_code == 200 and "<code>kept</code>" in form.text
    page = viewer.client.get(f"/courses/{course.slug}/export", params={"format": "gift"})
    assert page.status_code == 200
    assert f"<code>{code.id}</code>" in page.text
    assert "skipped" in page.text and f"Download {course.slug}" in page.text
    download = viewer.client.get(
        f"/courses/{course.slug}/export/file", params={"format": "yaml", "ids": ["kept"]}
    )
    assert download.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(download.content)).namelist() == [f"{course.slug}/kept.yaml"]


def test_a_learner_cannot_open_the_import_page(world: dict[str, Any], app: FastAPI) -> None:
    page = world["visitors"]["learner"].client.get(f"/courses/{world['course'].slug}/import")
    assert page.status_code == 403
    assert "content:edit" in page.text
