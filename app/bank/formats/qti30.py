"""QTI 3.0 packages (export only): the QTI 2.1 items of app.bank.formats.qti21, renamed.

QTI 3.0 keeps 2.1's information model and renames it: every QTI element `fooBar` becomes
`qti-foo-bar` and every attribute `fooBar` becomes `foo-bar`, in the namespace below, while
the XHTML elements keep their names. Modal feedback wraps its content in
`qti-content-body`. The manifest declares `<schemaversion>3.0.0</schemaversion>` and no
element carries a `data-*` attribute, so stricter 3.0.0 profiles accept it too. What is
skipped or carried by a fallback is as in QTI 2.1 (see that module).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from lxml import etree

from app.bank.formats import Exported
from app.bank.formats.qti21 import (
    LOM_DIFFICULTY,
    XSI,
    build_items,
    item_identifier,
    item_path,
    manifest_identifier,
    serialise,
    zip_files,
)
from app.bank.formats.qti21 import NS as QTI21_NS
from app.bank.formats.qti_common import sub
from app.bank.schema import AnyQuestion

NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
XSD_URL = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
CP_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
CP_XSD_URL = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
LOM_NS = "http://ltsc.ieee.org/xsd/LOM"
ITEM_TYPE = "imsqti_item_xmlv3p0"
SCHEMA_VERSION = "3.0.0"
MANIFEST = "imsmanifest.xml"
# The XHTML elements our items hold: the same names in QTI 3.0.
XHTML_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "span", "a", "ul", "ol", "li", "div",
    "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def export(
    questions: Iterable[AnyQuestion],
    *,
    bank_name: str,
    topic_of: Mapping[str, str] | None = None,
) -> Exported:
    """A QTI 3.0 package (zip) of every question QTI can carry, laid out as QTI 2.1's."""
    built, skipped, fallbacks = build_items(questions)
    paths = {q.id: item_path(q.id, topic_of) for q, _ in built}
    files = {paths[q.id]: serialise(to_qti3(element)) for q, element in built}
    files = {MANIFEST: serialise(manifest([q for q, _ in built], bank_name, paths)), **files}
    return Exported(
        data=zip_files(files),
        filename=f"{bank_name}-qti30.zip",
        media_type="application/zip",
        skipped=skipped,
        fallbacks=fallbacks,
    )


def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name).lower()


def to_qti3(item: etree._Element) -> etree._Element:
    """A QTI 2.1 assessmentItem as a QTI 3.0 qti-assessment-item."""
    root = _renamed(item, nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{NS} {XSD_URL}")
    return root


def _renamed(element: etree._Element, nsmap: dict[str | None, str] | None = None) -> etree._Element:
    name = etree.QName(element).localname
    tag = name if name in XHTML_TAGS else f"qti-{kebab(name)}"
    copy = etree.Element(f"{{{NS}}}{tag}", nsmap=nsmap)
    for key, value in element.attrib.items():
        qualified = etree.QName(key)
        if qualified.namespace == XSI:
            continue  # the 2.1 schema location; the caller sets 3.0's
        copy.set(key if qualified.namespace else kebab(key), value)
    target = copy
    if name == "modalFeedback":  # 3.0 wraps the feedback's content
        target = etree.SubElement(copy, f"{{{NS}}}qti-content-body")
    target.text = element.text
    for child in element:
        if etree.QName(child).namespace == QTI21_NS:
            renamed = _renamed(child)
            renamed.tail = child.tail
            target.append(renamed)
    return copy


def manifest(
    questions: list[AnyQuestion], bank_name: str, paths: Mapping[str, str]
) -> etree._Element:
    root = etree.Element(f"{{{CP_NS}}}manifest", nsmap={None: CP_NS, "lom": LOM_NS, "xsi": XSI})
    root.set("identifier", manifest_identifier(bank_name))
    root.set(f"{{{XSI}}}schemaLocation", f"{CP_NS} {CP_XSD_URL}")
    metadata = sub(root, "metadata")
    sub(metadata, "schema", "QTI Package")
    sub(metadata, "schemaversion", SCHEMA_VERSION)
    sub(root, "organizations")
    resources = sub(root, "resources")
    for question in questions:
        href = paths[question.id]
        resource = sub(resources, "resource", identifier=f"RES-{item_identifier(question.id)}")
        resource.set("type", ITEM_TYPE)
        resource.set("href", href)
        _lom(sub(resource, "metadata"), question)
        sub(resource, "file", href=href)
    return root


def _lom(metadata: etree._Element, question: AnyQuestion) -> None:
    lom = etree.SubElement(metadata, f"{{{LOM_NS}}}lom")
    general = sub(lom, "general")
    for tag in question.tags:
        sub(sub(general, "keyword"), "string", tag, language="en")
    difficulty = sub(sub(lom, "educational"), "difficulty")
    sub(difficulty, "source", "LOMv1.0")
    sub(difficulty, "value", LOM_DIFFICULTY[question.difficulty])
