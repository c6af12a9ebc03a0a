"""QTI 2.1 content packages: every item and the manifest valid against the official XSDs
(offline, from tests/fixtures/qti-xsd), the shipped bank back through an import on what QTI
carries, items from other tools read, and hostile packages refused with nothing imported."""

from __future__ import annotations

import io
import itertools
import zipfile
from functools import cache
from typing import Any

import pytest
from lxml import etree

from app.bank.formats import qti21
from app.bank.formats.mapping import PLACEHOLDER_MARK
from app.bank.formats.qti21 import (
    FALLBACK_CODE,
    FALLBACK_INDEX,
    FALLBACK_RUN,
    SKIP_VARIANTS,
)
from app.bank.formats.registry import export_bank
from app.bank.formats.safety import UnsafeFileError
from app.bank.grading import grade, parse_shape
from app.bank.schema import (
    AnyQuestion,
    CodeQuestion,
    MultipleSelect,
    Numeric,
    QuestionAdapter,
    ShortText,
    SingleChoice,
    TensorShape,
)
from app.core.markdown import render
from tests.formats.shipped import PROJECT, shipped_bank, shipped_questions, topic_of

XSD = PROJECT / "tests" / "fixtures" / "qti-xsd" / "qti21"
NS = {"q": qti21.NS, "cp": qti21.CP_NS, "md": qti21.MD_NS}


@cache
def schema(name: str) -> etree.XMLSchema:
    """An official XSD, its imports resolved from the local copies (the parser never fetches)."""
    parser = etree.XMLParser(no_network=True)
    return etree.XMLSchema(etree.parse(str(XSD / name), parser))


def item_schema() -> etree.XMLSchema:
    return schema("qtiv2p1/imsqti_v2p1.xsd")


def manifest_schema() -> etree.XMLSchema:
    return schema("imscp_v1p1.xsd")


def invalid(xsd: etree.XMLSchema, document: bytes) -> list[str]:
    ok = xsd.validate(etree.fromstring(document))
    return [] if ok else [str(error) for error in xsd.error_log]


def zipped(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@cache
def shipped_package() -> bytes:
    return qti21.export(shipped_questions(), bank_name="shipped").data


def package_files() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(shipped_package())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def exportable() -> list[AnyQuestion]:
    return [q for q in shipped_questions() if q.variants is None]


def rendered(value: Any) -> Any:
    """Every text as learners see it: Markdown that renders alike counts as the same."""
    if isinstance(value, str):
        return str(render(value))
    if isinstance(value, dict):
        return {key: rendered(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rendered(item) for item in value]
    return value


def carried(question: AnyQuestion) -> Any:
    """What a QTI 2.1 package carries of a question: everything but the author's claims
    (check, option outcomes), the sandbox run and index equivalence."""
    data = question.model_dump(exclude={"check", "predict_then_run", "variants"})
    for option in data.get("options", []):
        option.pop("outcome", None)
    if isinstance(question, ShortText):
        data["answer"].pop("index_of")
    return rendered(data)


# --- export: valid against the official schemas ---


def test_every_exported_item_and_the_manifest_validate_against_the_official_xsds() -> None:
    files = package_files()
    assert invalid(manifest_schema(), files.pop("imsmanifest.xml")) == []
    assert len(files) == len(exportable())
    problems = {name: invalid(item_schema(), content) for name, content in files.items()}
    assert {name: errors for name, errors in problems.items() if errors} == {}


def test_every_schema_import_resolves_to_a_local_file_so_validation_needs_no_network() -> None:
    locations = []
    for path in XSD.rglob("*.xsd"):
        tree = etree.parse(str(path), etree.XMLParser(no_network=True))
        for link in tree.iterfind(".//{http://www.w3.org/2001/XMLSchema}*[@schemaLocation]"):
            locations.append((path, link.get("schemaLocation")))
    assert len(locations) > 10
    for path, location in locations:
        assert "://" not in location, (path, location)
        assert (path.parent / location).is_file(), (path, location)


def test_the_xsd_check_can_fail_on_an_element_qti_does_not_allow() -> None:
    item = package_files()["items/bidir-live-captioning-unsuitable.xml"]
    broken = item.replace(b"<itemBody>", b'<itemBody><p><del data-x="1">old</del></p>', 1)
    errors = invalid(item_schema(), broken)
    assert errors and "del" in errors[0]


def question(**changes: Any) -> AnyQuestion:
    base = {
        "id": "1d-conv-shape",
        "type": "single_choice",
        "difficulty": "easy",
        "tags": ["conv"],
        "prompt": "Pick one.",
        "options": [
            {"text": "right", "correct": True, "feedback": "Yes."},
            {"text": "wrong", "feedback": "No."},
        ],
        "hints": ["Think."],
        "solution_steps": [{"title": "Look", "body": "It is right."}],
        "final_answer": "right",
        "quick_check": "Check it.",
        "common_mistakes": ["Guessing."],
    }
    return QuestionAdapter.validate_python(base | changes)


RICH_MARKDOWN = """\
## A heading, <b>raw HTML</b> & an [escaped](http://x.org/a_(b) "a title") link

> quoted **bold** *em* `code` and a line\\
break

1. one
2. two
   - nested

| left | centre | right |
| :--- | :---: | ---: |
| a \\| b | `c` | 3 |

---

```
plain fence
```

<script>alert(1)</script> <div data-x="1">html block</div>
"""


def test_markdown_qti_does_not_allow_is_exported_as_valid_xhtml_that_reads_back_alike() -> None:
    source = question(prompt=RICH_MARKDOWN)
    package = qti21.export([source], bank_name="b").data
    item = package_file(package, "items/1d-conv-shape.xml")
    assert invalid(item_schema(), item) == []
    elements = list(etree.fromstring(item).find("q:itemBody", NS).iter())
    assert not [e for e in elements if etree.QName(e).localname in ("script", "b", "h1")]
    assert not [
        name for e in elements for name in e.attrib if name.startswith(("data-", "title", "rel"))
    ]
    (back,) = qti21.parse(package).questions
    # A link's title is the one thing lost: QTI's <a> has no title attribute.
    assert rendered(back.prompt) == rendered(source.prompt.replace(' "a title"', ""))
    assert back.id == "1d-conv-shape"  # a slug starting with a digit survives as an identifier


def test_a_link_the_sanitiser_leaves_without_href_becomes_its_text() -> None:
    source = question(prompt="See [this](javascript:alert(1)) and [that](ftp://x.org/f).")
    item = package_file(qti21.export([source], bank_name="b").data, "items/1d-conv-shape.xml")
    assert invalid(item_schema(), item) == []
    assert b'href="javascript' not in item and b"ftp:" not in item


def test_a_top_heading_the_renderer_unwraps_becomes_a_valid_paragraph() -> None:
    source = question(prompt="# Loose heading\n\ntext *after*", hints=["# loose\n\n- a list"])
    item = package_file(qti21.export([source], bank_name="b").data, "items/1d-conv-shape.xml")
    assert invalid(item_schema(), item) == []
    (back,) = qti21.parse(qti21.export([source], bank_name="b").data).questions
    assert back.prompt == "Loose heading\n\ntext *after*"
    assert back.hints == ["loose\n\n- a list"]


def package_file(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name)


def test_a_bank_name_with_spaces_and_accents_still_gives_a_valid_manifest() -> None:
    package = qti21.export([question()], bank_name="Cours d'été: RNNs")
    assert invalid(manifest_schema(), package_file(package.data, "imsmanifest.xml")) == []


def test_the_same_bank_exports_to_the_same_bytes() -> None:
    again = qti21.export(shipped_questions(), bank_name="shipped").data
    assert again == shipped_package()


def test_variant_questions_are_skipped_and_partial_carriers_listed_with_why() -> None:
    result = qti21.export(shipped_questions(), bank_name="shipped")
    variants = {q.id for q in shipped_questions() if q.variants is not None}
    assert {left.question for left in result.skipped} == variants
    assert {left.reason for left in result.skipped} == {SKIP_VARIANTS}
    expected = set()
    for q in exportable():
        if isinstance(q, CodeQuestion):
            expected.add((q.id, FALLBACK_CODE))
        if q.predict_then_run:
            expected.add((q.id, FALLBACK_RUN))
        if isinstance(q, ShortText) and q.answer.index_of is not None:
            expected.add((q.id, FALLBACK_INDEX))
    assert {(left.question, left.reason) for left in result.fallbacks} == expected
    assert any(reason == FALLBACK_CODE for _, reason in expected)


def test_a_code_question_becomes_an_ungraded_essay_with_its_starter_and_reference() -> None:
    code = next(q for q in exportable() if isinstance(q, CodeQuestion))
    item = etree.fromstring(package_files()[f"items/{code.id}.xml"])
    (box,) = item.iterfind(".//q:extendedTextInteraction", NS)
    assert box.get("placeholderText") == code.starter
    assert item.find(".//q:correctResponse", NS) is None  # nothing to grade by
    solution = item.find(".//q:modalFeedback[@identifier='SOLUTION']", NS)
    assert code.solution_code.strip().splitlines()[0] in "".join(solution.itertext())


# --- export: the response processing grades as our grader does ---


def item_of(q: AnyQuestion) -> etree._Element:
    return etree.fromstring(package_files()[f"items/{q.id}.xml"])


def mapped_score(item: etree._Element, picks: list[str]) -> float:
    """QTI's mapResponse for a multiple response: the mapped values summed, within bounds."""
    mapping = item.find(".//q:mapping", NS)
    values = {e.get("mapKey"): float(e.get("mappedValue")) for e in mapping}
    total = sum(values.get(pick, float(mapping.get("defaultValue"))) for pick in picks)
    return min(float(mapping.get("upperBound")), max(float(mapping.get("lowerBound")), total))


def test_a_multiple_select_mapping_gives_our_partial_credit_for_every_set_of_picks() -> None:
    questions = [q for q in exportable() if isinstance(q, MultipleSelect)]
    assert questions
    for q in questions:
        item = item_of(q)
        letters = [chr(ord("A") + i) for i in range(len(q.options))]
        for size in range(1, len(letters) + 1):
            for picks in itertools.combinations(letters, size):
                ours = grade(q, list(picks)).score
                assert mapped_score(item, list(picks)) == pytest.approx(ours), (q.id, picks)


def test_a_shape_mapping_lists_only_forms_our_grader_reads_as_the_answer() -> None:
    questions = [q for q in exportable() if isinstance(q, TensorShape)]
    assert questions
    for q in questions:
        keys = [e.get("mapKey") for e in item_of(q).iterfind(".//q:mapEntry", NS)]
        assert len(keys) >= 3
        assert all(parse_shape(key) == q.expected() for key in keys)
        assert all(grade(q, key).correct for key in keys)


def test_a_numeric_item_grades_by_absolute_tolerance_around_its_key() -> None:
    questions = [q for q in exportable() if isinstance(q, Numeric)]
    assert questions
    for q in questions:
        item = item_of(q)
        (test,) = item.iterfind(".//q:equal", NS)
        assert test.get("toleranceMode") == "absolute"
        assert [float(t) for t in test.get("tolerance").split()] == [q.expected().tolerance] * 2
        key = item.find(".//q:correctResponse/q:value", NS).text
        assert float(key) == q.expected().value


def test_a_single_choice_item_keys_its_one_correct_option_and_shows_each_option_feedback() -> None:
    q = next(q for q in exportable() if isinstance(q, SingleChoice))
    item = item_of(q)
    key = [v.text for v in item.iterfind(".//q:correctResponse/q:value", NS)]
    assert key == [chr(ord("A") + i) for i in q.correct_indexes()]
    feedback = {f.get("identifier") for f in item.iterfind("q:modalFeedback", NS)}
    assert {chr(ord("A") + i) for i in range(len(q.options))} <= feedback
    assert {"HINTS", "SOLUTION"} <= feedback


def test_items_have_the_shapes_canvas_reads_prompt_key_and_option_feedback_from() -> None:
    """Canvas's QTI importer (gems/plugins/qti_exporter, assessment_item_converter.rb and
    choice_interaction.rb) takes the question text from itemBody's child div and p elements,
    the key from correctResponse, and an option's feedback from a condition that matches the
    option's identifier and adds a feedback identifier to FEEDBACK, naming a modalFeedback."""
    for q in (q for q in exportable() if isinstance(q, SingleChoice | MultipleSelect)):
        item = item_of(q)
        (prompt,) = item.findall("q:itemBody/q:div", NS)
        assert "".join(prompt.itertext()).strip()
        test = "match" if isinstance(q, SingleChoice) else "member"
        for index in range(len(q.options)):
            choice = chr(ord("A") + index)
            (condition,) = [
                c
                for c in item.iterfind("q:responseProcessing/q:responseCondition/q:responseIf", NS)
                if c.find(f"q:{test}/q:baseValue", NS) is not None
                and c.find(f"q:{test}/q:baseValue", NS).text == choice
            ]
            added = condition.find("q:setOutcomeValue[@identifier='FEEDBACK']/q:multiple", NS)
            assert added.find("q:variable", NS).get("identifier") == "FEEDBACK"
            assert added.find("q:baseValue", NS).text == choice
            assert item.find(f"q:modalFeedback[@identifier='{choice}']/q:p", NS) is not None


# --- import ---


def test_an_export_then_import_gives_back_every_exportable_question_on_what_qti_carries() -> None:
    parsed = qti21.parse(shipped_package())
    originals = {q.id: q for q in exportable() if not isinstance(q, CodeQuestion)}
    assert sorted(q.id for q in parsed.questions) == sorted(originals)
    for back in parsed.questions:
        assert carried(back) == carried(originals[back.id]), back.id
    codes = {q.id for q in exportable() if isinstance(q, CodeQuestion)}
    assert {p.path for p in parsed.problems} == {f"items/{qid}.xml" for qid in codes}
    assert all(p.field == "extendedTextInteraction" for p in parsed.problems)


def test_a_bank_exported_by_topic_imports_each_question_into_its_topic() -> None:
    exported = export_bank("qti21", shipped_bank())
    names = zipfile.ZipFile(io.BytesIO(exported.data)).namelist()
    assert all(name.count("/") == 2 for name in names if name != "imsmanifest.xml")
    parsed = qti21.parse(exported.data)
    assert parsed.questions
    assert parsed.topic_of == {q.id: topic_of()[q.id] for q in parsed.questions}


CANVAS_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="M1">
  <organizations/>
  <resources>
    <resource identifier="R1" type="imsqti_item_xmlv2p1" href="choice.xml">
      <file href="choice.xml"/>
    </resource>
    <resource identifier="R2" type="imsqti_item_xmlv2p1" href="order.xml">
      <file href="order.xml"/>
    </resource>
    <resource identifier="R3" type="imsqti_item_xmlv2p1">
      <file href="text/entry.xml"/>
    </resource>
    <resource identifier="R4" type="imsqti_item_xmlv2p1" href="number.xml"/>
    <resource identifier="W1" type="webcontent" href="style.css"/>
  </resources>
</manifest>"""

ITEM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="{id}" '
    'title="{id}" adaptive="false" timeDependent="false">'
)

CANVAS_CHOICE = (
    ITEM_HEAD.format(id="ITEM_Choice_01")
    + """
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>c2</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="1">
      <prompt>What does <code>x.view(2, -1)</code> return for a tensor of 6 elements?</prompt>
      <simpleChoice identifier="c1">A (3, 2) tensor
        <feedbackInline outcomeIdentifier="FEEDBACK" identifier="c1" showHide="show">
          No: -1 is inferred last.</feedbackInline></simpleChoice>
      <simpleChoice identifier="c2">A (2, 3) tensor</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing
    template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
</assessmentItem>"""
)

CANVAS_ORDER = (
    ITEM_HEAD.format(id="ORDER1")
    + """
  <responseDeclaration identifier="RESPONSE" cardinality="ordered" baseType="identifier"/>
  <itemBody><orderInteraction responseIdentifier="RESPONSE">
    <simpleChoice identifier="a">first</simpleChoice>
    <simpleChoice identifier="b">second</simpleChoice>
  </orderInteraction></itemBody>
</assessmentItem>"""
)

CANVAS_TEXT = (
    ITEM_HEAD.format(id="entry")
    + """
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string">
    <correctResponse><value>dim</value></correctResponse>
    <mapping defaultValue="0">
      <mapEntry mapKey="dim" mappedValue="1" caseSensitive="false"/>
      <mapEntry mapKey="axis" mappedValue="1" caseSensitive="false"/>
      <mapEntry mapKey="nothing" mappedValue="0" caseSensitive="false"/>
    </mapping>
  </responseDeclaration>
  <itemBody>
    <p>Which keyword argument of <code>torch.sum</code> names the axis?
      <textEntryInteraction responseIdentifier="RESPONSE" expectedLength="10"/></p>
  </itemBody>
</assessmentItem>"""
)

CANVAS_NUMBER = (
    ITEM_HEAD.format(id="number")
    + """
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="float">
    <correctResponse><value>200</value></correctResponse>
  </responseDeclaration>
  <itemBody><p>How many elements?</p>
    <div><textEntryInteraction responseIdentifier="RESPONSE"/></div></itemBody>
  <responseProcessing><responseCondition><responseIf>
    <equal toleranceMode="relative" tolerance="5 5">
      <variable identifier="RESPONSE"/><correct identifier="RESPONSE"/></equal>
  </responseIf></responseCondition></responseProcessing>
</assessmentItem>"""
)


def canvas_package(**changes: str | bytes) -> bytes:
    files: dict[str, str | bytes] = {
        "imsmanifest.xml": CANVAS_MANIFEST,
        "choice.xml": CANVAS_CHOICE,
        "order.xml": CANVAS_ORDER,
        "text/entry.xml": CANVAS_TEXT,
        "number.xml": CANVAS_NUMBER,
    }
    return zipped(files | changes)


def test_items_from_another_tool_import_with_placeholders_and_an_unknown_interaction_named() -> (
    None
):
    parsed = qti21.parse(canvas_package())
    (problem,) = parsed.problems
    assert problem.path == "order.xml" and problem.field == "orderInteraction"
    assert "ORDER1" in problem.message
    by_id = {q.id: q for q in parsed.questions}
    assert sorted(by_id) == ["entry", "item-choice-01", "number"]
    choice = by_id["item-choice-01"]
    assert isinstance(choice, SingleChoice)
    assert choice.prompt == "What does `x.view(2, -1)` return for a tensor of 6 elements?"
    assert [o.text for o in choice.options] == ["A (3, 2) tensor", "A (2, 3) tensor"]
    assert choice.correct_indexes() == {1}
    assert choice.options[0].feedback == "No: -1 is inferred last."
    assert choice.options[1].feedback.startswith(PLACEHOLDER_MARK)
    assert choice.shuffle is False
    assert choice.final_answer == "A (2, 3) tensor"  # the key, as the item has no answer text
    lacking = ["hints", "solution_steps", "quick_check", "common_mistakes"]
    assert all(str(getattr(choice, name)).count(PLACEHOLDER_MARK) for name in lacking)
    assert choice.tags == ["imported"] and choice.difficulty == "medium"
    warned = {w.field for w in parsed.warnings if w.path == "choice.xml"}
    assert warned == {*lacking, "options[1].feedback", "difficulty", "tags"}


def test_our_own_export_imports_without_a_warning() -> None:
    assert qti21.parse(shipped_package()).warnings == []


def test_a_prompt_of_plain_text_inside_the_interaction_becomes_the_prompt() -> None:
    plain = CANVAS_CHOICE.replace("<code>x.view(2, -1)</code>", "x.view(2, -1)")
    (choice,) = qti21.parse(plain.encode()).questions
    assert choice.prompt == "What does x.view(2, -1) return for a tensor of 6 elements?"


def test_a_foreign_text_entry_keeps_its_positive_mapped_answers_and_case_rule() -> None:
    parsed = qti21.parse(canvas_package())
    entry = next(q for q in parsed.questions if q.id == "entry")
    assert isinstance(entry, ShortText)
    assert entry.answer.accepted == ["dim", "axis"]
    assert entry.answer.case_sensitive is False
    assert entry.prompt == "Which keyword argument of `torch.sum` names the axis?"
    assert grade(entry, "AXIS").correct


def test_a_foreign_relative_tolerance_becomes_the_absolute_one_it_means() -> None:
    parsed = qti21.parse(canvas_package())
    number = next(q for q in parsed.questions if q.id == "number")
    assert isinstance(number, Numeric)
    assert number.expected().value == 200 and number.expected().tolerance == pytest.approx(10)
    assert number.prompt == "How many elements?"


def test_one_item_file_imports_without_a_package() -> None:
    (only,) = qti21.parse(CANVAS_TEXT.encode()).questions
    assert only.id == "entry"


def test_an_item_whose_key_breaks_the_schema_is_a_problem_naming_item_and_field() -> None:
    two_keys = CANVAS_CHOICE.replace("<value>c2</value>", "<value>c1</value><value>c2</value>")
    parsed = qti21.parse(canvas_package(**{"choice.xml": two_keys}))
    assert "item-choice-01" not in {q.id for q in parsed.questions}
    problem = next(p for p in parsed.problems if p.path == "choice.xml")
    assert problem.field == "options"
    assert "exactly one correct option" in problem.message


# --- hostile packages: refused whole, nothing imported ---

XXE_ITEM = """<?xml version="1.0"?>
<!DOCTYPE assessmentItem [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="x" title="x"
  adaptive="false" timeDependent="false"><itemBody><p>&secret;</p></itemBody></assessmentItem>"""

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE manifest [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1">&lol4;</manifest>"""


def bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imsmanifest.xml", CANVAS_MANIFEST)
        archive.writestr("choice.xml", b"<a>" + b" " * 30_000_000 + b"</a>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("package", "words"),
    [
        (lambda: canvas_package(**{"../../etc/cron.d/x": "boom"}), "points outside"),
        (bomb, "compressed suspiciously"),
        (lambda: canvas_package(**{"number.xml": XXE_ITEM}), "number.xml: the XML declares"),
        (lambda: canvas_package(**{"imsmanifest.xml": LAUGHS}), "imsmanifest.xml: the XML"),
        (lambda: canvas_package(**{"imsmanifest.xml": "<manifest><resources>"}), "malformed"),
        (lambda: canvas_package(**{"imsmanifest.xml": "<html/>"}), "not <manifest>"),
        (lambda: zipped({"choice.xml": CANVAS_CHOICE}), "no imsmanifest.xml"),
        (lambda: b"PK\x03\x04 not really a zip", "not a readable zip"),
        (lambda: XXE_ITEM.encode(), "declares"),
    ],
    ids=[
        "path-traversal",
        "zip-bomb",
        "xxe-in-an-item",
        "billion-laughs",
        "malformed-manifest",
        "not-a-manifest",
        "no-manifest",
        "not-a-zip",
        "xxe-in-a-lone-item",
    ],
)
def test_a_hostile_or_broken_package_is_refused_with_a_clear_error(
    package: Any, words: str
) -> None:
    with pytest.raises(UnsafeFileError, match=words.replace(".", r"\.")):
        qti21.parse(package())


def test_a_manifest_naming_a_missing_file_is_refused_naming_the_file() -> None:
    files = {"imsmanifest.xml": CANVAS_MANIFEST, "choice.xml": CANVAS_CHOICE}
    with pytest.raises(UnsafeFileError, match=r"'order\.xml', which the zip does not hold"):
        qti21.parse(zipped(files))
