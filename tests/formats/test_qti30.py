"""QTI 3.0 packages. The 3.0 schemas are not shipped (their licence is narrower, see
tests/fixtures/qti-xsd/README.md), so the structure is tested: the manifest's schemaversion,
QTI 3 names in the QTI 3 namespace, no data-* attributes, and each item, renamed back by
3.0's own naming rule, a valid QTI 2.1 item that imports as the question it came from."""

from __future__ import annotations

import io
import re
import zipfile
from functools import cache

from lxml import etree

from app.bank.formats import qti21, qti30
from app.bank.formats.registry import export_bank
from app.bank.schema import AnyQuestion, CodeQuestion
from tests.formats.shipped import shipped_bank, shipped_questions
from tests.formats.test_qti21 import carried, invalid, item_schema

QTI3 = {"q": qti30.NS, "cp": qti30.CP_NS, "lom": qti30.LOM_NS}
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@cache
def package_files() -> dict[str, bytes]:
    data = qti30.export(shipped_questions(), bank_name="shipped").data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def items() -> dict[str, etree._Element]:
    return {
        name: etree.fromstring(content)
        for name, content in package_files().items()
        if name != "imsmanifest.xml"
    }


def exportable() -> list[AnyQuestion]:
    return [q for q in shipped_questions() if q.variants is None]


def test_the_manifest_declares_schemaversion_3_0_0_and_a_qti3_resource_per_item() -> None:
    manifest = etree.fromstring(package_files()["imsmanifest.xml"])
    assert manifest.tag == f"{{{qti30.CP_NS}}}manifest"
    assert manifest.findtext("cp:metadata/cp:schemaversion", namespaces=QTI3) == "3.0.0"
    resources = manifest.findall("cp:resources/cp:resource", QTI3)
    assert {r.get("type") for r in resources} == {"imsqti_item_xmlv3p0"}
    assert sorted(r.get("href") for r in resources) == sorted(items())
    assert all(r.find("cp:file", QTI3).get("href") == r.get("href") for r in resources)
    difficulty = resources[0].findtext(".//lom:difficulty/lom:value", namespaces=QTI3)
    assert difficulty in {"easy", "medium", "difficult"}


def test_every_item_is_a_qti3_assessment_item_with_kebab_case_names_only() -> None:
    found = items()
    assert len(found) == len(exportable())
    for name, item in found.items():
        assert item.tag == f"{{{qti30.NS}}}qti-assessment-item", name
        for element in item.iter():
            qualified = etree.QName(element)
            assert qualified.namespace == qti30.NS, (name, element.tag)
            local = qualified.localname
            assert local in qti30.XHTML_TAGS or local.startswith("qti-"), (name, local)
            assert KEBAB.match(local), (name, local)
            plain = [key for key in element.attrib if not etree.QName(key).namespace]
            assert all(KEBAB.match(key) for key in plain), (name, local, plain)


def test_no_element_carries_a_data_attribute() -> None:
    for name, item in items().items():
        names = {key for element in item.iter() for key in element.attrib}
        assert not [key for key in names if key.startswith("data-")], name


def test_modal_feedback_holds_its_content_in_a_content_body() -> None:
    for item in items().values():
        for feedback in item.iterfind("q:qti-modal-feedback", QTI3):
            assert [etree.QName(c).localname for c in feedback] == ["qti-content-body"]


def to_qti21(element: etree._Element) -> etree._Element:
    """QTI 3.0 renamed back by its own rule (qti-foo-bar -> fooBar, foo-bar -> fooBar)."""

    def camel(name: str) -> str:
        head, *rest = name.split("-")
        return head + "".join(part.capitalize() for part in rest)

    local = etree.QName(element).localname
    copy = etree.Element(f"{{{qti21.NS}}}{camel(local.removeprefix('qti-'))}")
    for key, value in element.attrib.items():
        copy.set(key if etree.QName(key).namespace else camel(key), value)
    copy.text = element.text
    for child in element:
        if etree.QName(child).localname == "qti-content-body":
            copy.text = child.text
            for grandchild in child:
                copy.append(to_qti21(grandchild))
                copy[-1].tail = grandchild.tail
            continue
        copy.append(to_qti21(child))
        copy[-1].tail = child.tail
    return copy


def test_each_item_renamed_back_is_a_valid_qti21_item_that_imports_as_its_question() -> None:
    originals = {q.id: q for q in exportable()}
    for name, item in items().items():
        back = etree.tostring(to_qti21(item))
        assert invalid(item_schema(), back) == [], name
        parsed = qti21.parse(back)
        question = originals[name.removeprefix("items/").removesuffix(".xml")]
        if isinstance(question, CodeQuestion):
            assert parsed.problems[0].field == "extendedTextInteraction"
            continue
        (imported,) = parsed.questions
        own = carried(question)
        # One item alone has no manifest: its tags and difficulty are the import's defaults.
        assert {**carried(imported), "tags": own["tags"], "difficulty": own["difficulty"]} == own


def test_a_bank_exported_by_topic_lists_each_item_where_the_zip_holds_it() -> None:
    exported = export_bank("qti30", shipped_bank())
    with zipfile.ZipFile(io.BytesIO(exported.data)) as archive:
        names = set(archive.namelist())
        manifest = etree.fromstring(archive.read("imsmanifest.xml"))
    hrefs = {r.get("href") for r in manifest.iterfind("cp:resources/cp:resource", QTI3)}
    assert hrefs == names - {"imsmanifest.xml"}
    assert all(href.count("/") == 2 for href in hrefs)


def test_qti30_skips_and_falls_back_as_qti21_does() -> None:
    three = qti30.export(shipped_questions(), bank_name="shipped")
    two = qti21.export(shipped_questions(), bank_name="shipped")
    assert three.skipped == two.skipped and three.fallbacks == two.fallbacks
    assert three.filename == "shipped-qti30.zip" and three.media_type == "application/zip"
