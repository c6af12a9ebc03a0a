"""Hostile and broken uploads: each gets a clear error naming the problem, and nothing is
imported."""

from __future__ import annotations

import importlib.util
import io
import zipfile

import pytest

from app.bank.formats import gift, moodle_xml, yaml_zip
from app.bank.formats.registry import FormatError, parse
from app.bank.formats.safety import MAX_UPLOAD_BYTES, UnsafeFileError
from tests.formats.test_yaml_zip import zipped

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE quiz [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<quiz><question type="shortanswer"><name><text>&secret;</text></name></question></quiz>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE quiz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<quiz><question type="essay"><name><text>&lol3;</text></name></question></quiz>"""


def test_malformed_xml_names_line_and_column() -> None:
    with pytest.raises(UnsafeFileError, match=r"malformed at line 1, column \d+"):
        moodle_xml.parse(b"<quiz><question type='multichoice'></quiz>")


def test_an_xml_file_that_is_not_moodle_xml_is_refused() -> None:
    with pytest.raises(UnsafeFileError, match="root element is <html>"):
        moodle_xml.parse(b"<html><body/></html>")


def test_an_external_entity_is_refused_before_any_file_is_read() -> None:
    with pytest.raises(UnsafeFileError) as refused:
        moodle_xml.parse(XXE)
    assert "no DTDs or entities" in str(refused.value)
    assert "root:" not in str(refused.value)  # nothing of /etc/passwd


def test_billion_laughs_are_refused() -> None:
    with pytest.raises(UnsafeFileError, match="no DTDs or entities"):
        moodle_xml.parse(LAUGHS)


@pytest.mark.parametrize("name", ["yaml", "moodle-xml", "gift"])
def test_an_oversized_file_is_refused_by_every_format(name: str) -> None:
    with pytest.raises(UnsafeFileError, match="the limit is"):
        parse(name, b" " * (MAX_UPLOAD_BYTES + 1))


def test_a_zip_bomb_entry_is_refused() -> None:
    bomb = zipped({"rnn/bomb.yaml": b"a" * (20 * 1024 * 1024)})
    with pytest.raises(UnsafeFileError, match="compressed suspiciously far"):
        yaml_zip.parse(bomb)


@pytest.mark.parametrize("entry", ["../x.yaml", "/etc/x.yaml", "rnn/../../x.yaml", "C:/x.yaml"])
def test_a_zip_entry_outside_the_bank_is_refused(entry: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(entry), "id: x\n")
    with pytest.raises(UnsafeFileError, match="points outside the bank"):
        yaml_zip.parse(buffer.getvalue())


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(UnsafeFileError, match="not a readable zip"):
        yaml_zip.parse(b"id: x\n")


def test_gift_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(UnsafeFileError, match="not UTF-8"):
        gift.parse("::q::Caf\u00e9?{=yes}".encode("latin-1"))


def test_unknown_types_import_nothing_of_themselves() -> None:
    xml = b"<quiz><question type='calculated'><name><text>c</text></name></question></quiz>"
    parsed = moodle_xml.parse(xml)
    assert parsed.questions == []
    assert [(p.path, p.field) for p in parsed.problems] == [("question 1 'c'", "type")]


def test_an_unknown_format_and_an_export_only_format_are_clear_errors() -> None:
    with pytest.raises(FormatError, match="unknown format 'csv'"):
        parse("csv", b"")
    if importlib.util.find_spec("app.bank.formats.qti30") is not None:  # written beside these
        with pytest.raises(FormatError, match="can be exported, not imported"):
            parse("qti30", b"")
