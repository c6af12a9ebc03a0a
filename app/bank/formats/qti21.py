"""QTI 2.1 content packages (imsmanifest.xml plus one assessmentItem per question), which
Canvas, Blackboard, TAO and OpenOLAT import: export, and import back through the one schema.

How each type is carried:
- The prompt: a div in itemBody (Canvas takes the question text from itemBody's div and p
  children), before the interaction.
- single_choice: choiceInteraction maxChoices=1, its key in correctResponse; each option's
  feedback a modalFeedback keyed by the choice's identifier, which a condition per option adds
  to the outcome FEEDBACK: the form of the QTI 2.1 examples, and the one Canvas's importer
  reads option feedback from (it ignores feedback keyed by RESPONSE directly).
- multiple_select: choiceInteraction maxChoices=0 with a mapping giving our partial credit (a
  right pick +1/right options, a wrong pick -1/wrong options, lowerBound 0, upperBound 1).
- numeric: textEntryInteraction of baseType float, `equal` with toleranceMode absolute; the unit
  in a span of class `unit` after the box.
- short_text and tensor_shape: textEntryInteraction of baseType string with a mapping of every
  accepted form (a shape's 8 written forms); the shape's box has class `tensor-shape`.
- Hints are a modalFeedback HINTS, shown after a wrong answer; the solution steps, final
  answer, quick check and common mistakes a modalFeedback SOLUTION, shown after any answer.
  Each part is a div whose class names it, so an import gets the fields back.
- Left out, listed in `Exported.skipped`: questions with variants (torch computes each answer).
  Carried by a fallback, listed in `Exported.fallbacks`: code questions as an ungraded
  extendedTextInteraction (an essay to mark by hand; the hidden tests cannot travel), and the
  parts QTI cannot grade or run (predict_then_run's run, index_of's equivalent indexes).
  Every question's `check` stays with the bank: it is the author's claim, not the learner's.

Import takes such packages, and items from other tools using the same interactions (a prompt
inside the interaction, feedbackInline in a choice, response processing templates).
Difficulty and tags come from the manifest's LOM metadata; the final answer, when the item
has none of ours, is its key. A field an item does not hold (hints, solution steps, quick
check, common mistakes, an option's feedback, difficulty, tags) gets the placeholder every
import format gives (app.bank.formats.mapping: marked PLACEHOLDER_MARK) and a warning naming
the item and field, so the question validates and an author can find the gap.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from xml.etree.ElementTree import Element

from lxml import etree
from pydantic import ValidationError

from app.bank.formats import Exported, Left, Parsed
from app.bank.formats.mapping import complete, option_feedback, validation_problems
from app.bank.formats.qti_common import (
    FINAL_CLASS,
    HINT_CLASS,
    HINTS_FEEDBACK,
    LABEL_CLASS,
    MISTAKE_CLASS,
    MISTAKES_CLASS,
    QUICK_CHECK_CLASS,
    SHAPE_CLASS,
    SOLUTION_FEEDBACK,
    STEP_CLASS,
    TOOL_NAME,
    UNIT_CLASS,
    append_markdown,
    authored_forms,
    classes,
    local,
    number_text,
    shape_forms,
    sub,
    text_forms,
    to_markdown,
)
from app.bank.formats.safety import UnsafeFileError, parse_xml, read_zip
from app.bank.grading import format_answer, letter, parse_shape
from app.bank.loader import Problem
from app.bank.schema import (
    AnyQuestion,
    ChoiceQuestion,
    CodeQuestion,
    Difficulty,
    Numeric,
    QuestionAdapter,
    ShortText,
    SingleChoice,
    TensorShape,
)
from app.core.bounds import SLUG_LENGTH
from app.core.errors import AnswerFormatError

NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
XSD_URL = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
MD_NS = "http://www.imsglobal.org/xsd/imsmd_v1p2"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ITEM_TYPE = "imsqti_item_xmlv2p1"
MANIFEST = "imsmanifest.xml"
ITEMS = "items"  # the folder of the item files
TOOL_VERSION = "0.1.0"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same bank exports to the same bytes

# LOM's difficulty vocabulary (IMS MD 1.2) for ours, and back (its extremes to our nearest).
LOM_DIFFICULTY = {
    Difficulty.easy: "easy",
    Difficulty.medium: "medium",
    Difficulty.hard: "difficult",
}
FROM_LOM = {
    "very easy": "easy",
    "easy": "easy",
    "medium": "medium",
    "difficult": "hard",
    "very difficult": "hard",
}

SKIP_VARIANTS = (
    "its answer is computed by torch for each variant, which QTI template processing cannot do"
)
FALLBACK_CODE = (
    "exported as an ungraded essay (extendedTextInteraction) with the reference solution as "
    "feedback: its hidden tests need our sandbox"
)
FALLBACK_RUN = "graded as usual, but the sandbox run of its code after answering is not carried"
FALLBACK_INDEX = (
    "graded by its accepted expressions only: QTI cannot accept other indexes that select the "
    "same elements"
)


# --- export ---


def export(
    questions: Iterable[AnyQuestion],
    *,
    bank_name: str,
    topic_of: Mapping[str, str] | None = None,
) -> Exported:
    """A QTI 2.1 content package (zip) of every question it can carry; with `topic_of`, each
    item in a folder named by its topic (items/<topic>/<id>.xml), which an import reads back."""
    built, skipped, fallbacks = build_items(questions)
    paths = {q.id: item_path(q.id, topic_of) for q, _ in built}
    files = {paths[q.id]: serialise(element) for q, element in built}
    files = {MANIFEST: serialise(manifest([q for q, _ in built], bank_name, paths)), **files}
    return Exported(
        data=zip_files(files),
        filename=f"{bank_name}-qti21.zip",
        media_type="application/zip",
        skipped=skipped,
        fallbacks=fallbacks,
    )


def build_items(
    questions: Iterable[AnyQuestion],
) -> tuple[list[tuple[AnyQuestion, etree._Element]], list[Left], list[Left]]:
    """Each exportable question's assessmentItem, and what was skipped or carried in part."""
    built, skipped, fallbacks = [], [], []
    for question in questions:
        if question.variants is not None:
            skipped.append(Left(question.id, SKIP_VARIANTS))
            continue
        reasons = fallback_reasons(question)
        fallbacks += [Left(question.id, reason) for reason in reasons]
        built.append((question, item_element(question)))
    return built, skipped, fallbacks


def fallback_reasons(question: AnyQuestion) -> list[str]:
    if isinstance(question, CodeQuestion):
        return [FALLBACK_CODE]
    reasons = [FALLBACK_RUN] if question.predict_then_run else []
    if isinstance(question, ShortText) and question.answer.index_of is not None:
        reasons.append(FALLBACK_INDEX)
    return reasons


def item_identifier(question_id: str) -> str:
    """A QTI identifier starts with a letter; a slug may start with a digit. Slugs have no
    underscore, so the prefix cannot be mistaken for part of an id."""
    return question_id if question_id[0].isalpha() else f"q_{question_id}"


def manifest_identifier(bank_name: str) -> str:
    """An XML ID (the manifest's identifier) from any bank name."""
    return "MANIFEST-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", bank_name)


def item_path(question_id: str, topic_of: Mapping[str, str] | None = None) -> str:
    topic = (topic_of or {}).get(question_id)
    return f"{ITEMS}/{topic}/{question_id}.xml" if topic else f"{ITEMS}/{question_id}.xml"


def topic_from_path(path: str) -> str | None:
    """The topic an item's place in our layout names (items/<topic>/<id>.xml), if any."""
    parts = PurePosixPath(path).parts
    return parts[1] if len(parts) == 3 and parts[0] == ITEMS else None


def serialise(element: etree._Element) -> bytes:
    # Not pretty-printed: libxml2 would indent inside a <pre> whose code is all spans.
    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8"))


def zip_files(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, ZIP_TIME), content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def item_element(question: AnyQuestion) -> etree._Element:
    root = etree.Element(f"{{{NS}}}assessmentItem", nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{NS} {XSD_URL}")
    root.set("identifier", item_identifier(question.id))
    root.set("title", question.id)
    root.set("adaptive", "false")
    root.set("timeDependent", "false")
    root.set("toolName", TOOL_NAME)
    root.set("toolVersion", TOOL_VERSION)
    if isinstance(question, ChoiceQuestion):
        _choice_item(root, question)
    elif isinstance(question, CodeQuestion):
        _essay_item(root, question)
    else:
        _text_entry_item(root, question)
    _add_help(root, question)
    return root


def _declare(
    root: etree._Element, cardinality: str, base: str, correct: list[str]
) -> etree._Element:
    response = sub(root, "responseDeclaration", identifier="RESPONSE", cardinality=cardinality)
    response.set("baseType", base)
    if correct:
        values = sub(response, "correctResponse")
        for value in correct:
            sub(values, "value", value)
    return response


def _declare_outcomes(root: etree._Element) -> None:
    for name, default in (("SCORE", "0"), ("MAXSCORE", "1")):
        outcome = sub(root, "outcomeDeclaration", identifier=name, cardinality="single")
        outcome.set("baseType", "float")
        sub(sub(outcome, "defaultValue"), "value", default)
    sub(root, "outcomeDeclaration", identifier="FEEDBACK", cardinality="multiple").set(
        "baseType", "identifier"
    )


def _mapping(response: etree._Element, entries: list[tuple[str, float]], case: bool) -> None:
    mapping = sub(response, "mapping", lowerBound="0", upperBound="1", defaultValue="0")
    for key, value in entries:
        entry = sub(mapping, "mapEntry", mapKey=key, mappedValue=number_text(value))
        entry.set("caseSensitive", "true" if case else "false")


def _choice_item(root: etree._Element, question: ChoiceQuestion) -> None:
    right = question.correct_indexes()
    single = isinstance(question, SingleChoice)
    response = _declare(
        root, "single" if single else "multiple", "identifier", [letter(i) for i in sorted(right)]
    )
    if not single:
        wrong = len(question.options) - len(right)
        entries = [
            (letter(i), 1 / len(right) if i in right else -1 / wrong)
            for i in range(len(question.options))
        ]
        _mapping(response, entries, case=True)
    _declare_outcomes(root)
    body = sub(root, "itemBody")
    append_markdown(sub(body, "div"), question.prompt)
    interaction = sub(body, "choiceInteraction", responseIdentifier="RESPONSE")
    interaction.set("shuffle", "true" if question.shuffle else "false")
    interaction.set("maxChoices", "1" if single else "0")
    for index, option in enumerate(question.options):
        append_markdown(
            sub(interaction, "simpleChoice", identifier=letter(index)), option.text, inline=True
        )
    processing = sub(root, "responseProcessing")
    _score_rule(processing, "match" if single else "map")
    letters = [letter(i) for i in range(len(question.options))]
    _feedback_rule(processing, letters, single=single)
    for index, option in enumerate(question.options):
        _modal(root, letter(index), option.feedback)


def _text_entry_item(root: etree._Element, question: Numeric | ShortText | TensorShape) -> None:
    box_class = None
    if isinstance(question, Numeric):
        answer = question.expected()
        _declare(root, "single", "float", [number_text(answer.value)])
        rule, length = "equal", 20
    else:
        if isinstance(question, TensorShape):
            forms, case, box_class = shape_forms(question.expected()), False, SHAPE_CLASS
            first = format_answer(question.expected())
        else:
            forms, case = text_forms(question.answer.accepted), question.answer.case_sensitive
            first = question.answer.accepted[0]
        response = _declare(root, "single", "string", [first])
        _mapping(response, [(form, 1) for form in forms], case)
        rule, length = "map", max(20, *(len(form) for form in forms))
    _declare_outcomes(root)
    body = sub(root, "itemBody")
    append_markdown(sub(body, "div"), question.prompt)
    line = sub(body, "p")
    box = sub(line, "textEntryInteraction", responseIdentifier="RESPONSE")
    box.set("expectedLength", str(length))
    if box_class:
        box.set("class", box_class)
    if isinstance(question, Numeric) and question.unit:
        box.tail = " "
        sub(line, "span", question.unit, **{"class": UNIT_CLASS})
    processing = sub(root, "responseProcessing")
    tolerance = question.expected().tolerance if isinstance(question, Numeric) else 0.0
    _score_rule(processing, rule, tolerance)
    _feedback_rule(processing, [], single=True)


def _essay_item(root: etree._Element, question: CodeQuestion) -> None:
    _declare(root, "single", "string", [])
    _declare_outcomes(root)
    body = sub(root, "itemBody")
    append_markdown(sub(body, "div"), question.prompt)
    box = sub(body, "extendedTextInteraction", responseIdentifier="RESPONSE")
    box.set("format", "preformatted")
    box.set("expectedLines", str(max(8, question.starter.count("\n") + 4)))
    box.set("placeholderText", question.starter)
    processing = sub(root, "responseProcessing")
    setter = sub(processing, "setOutcomeValue", identifier="FEEDBACK")
    sub(sub(setter, "multiple"), "baseValue", SOLUTION_FEEDBACK, baseType="identifier")


def _score_rule(processing: etree._Element, rule: str, tolerance: float = 0.0) -> None:
    """SCORE: 1 for the key (match, or equal within the tolerance), else 0; or the mapping's
    sum for a response, 0 for none."""
    condition = sub(processing, "responseCondition")
    branch = sub(condition, "responseIf")
    if rule == "map":
        sub(sub(branch, "isNull"), "variable", identifier="RESPONSE")
        _set_score(branch, "0")
        setter = sub(sub(condition, "responseElse"), "setOutcomeValue", identifier="SCORE")
        sub(setter, "mapResponse", identifier="RESPONSE")
        return
    test = sub(branch, rule)
    if rule == "equal":
        bound = number_text(tolerance)
        test.set("toleranceMode", "absolute")
        test.set("tolerance", f"{bound} {bound}")
    sub(test, "variable", identifier="RESPONSE")
    sub(test, "correct", identifier="RESPONSE")
    _set_score(branch, "1")
    _set_score(sub(condition, "responseElse"), "0")


def _set_score(parent: etree._Element, value: str) -> None:
    sub(sub(parent, "setOutcomeValue", identifier="SCORE"), "baseValue", value, baseType="float")


def _feedback_rule(processing: etree._Element, choices: list[str], *, single: bool) -> None:
    """FEEDBACK: each chosen option (its feedback), then the hints after a wrong answer and
    the solution after any answer. One condition per option, in the form the QTI 2.1 examples
    use and Canvas's importer reads an option's feedback from (match or member of a choice's
    identifier, adding that identifier to FEEDBACK)."""
    for choice in choices:
        branch = sub(sub(processing, "responseCondition"), "responseIf")
        if single:
            test = sub(branch, "match")
            sub(test, "variable", identifier="RESPONSE")
            sub(test, "baseValue", choice, baseType="identifier")
        else:
            test = sub(branch, "member")
            sub(test, "baseValue", choice, baseType="identifier")
            sub(test, "variable", identifier="RESPONSE")
        _add_feedback(branch, [choice])
    condition = sub(processing, "responseCondition")
    wrong = sub(condition, "responseIf")
    below = sub(wrong, "lt")
    sub(below, "variable", identifier="SCORE")
    sub(below, "variable", identifier="MAXSCORE")
    _add_feedback(wrong, [HINTS_FEEDBACK, SOLUTION_FEEDBACK])
    _add_feedback(sub(condition, "responseElse"), [SOLUTION_FEEDBACK])


def _add_feedback(branch: etree._Element, names: list[str]) -> None:
    parts = sub(sub(branch, "setOutcomeValue", identifier="FEEDBACK"), "multiple")
    sub(parts, "variable", identifier="FEEDBACK")
    for name in names:
        sub(parts, "baseValue", name, baseType="identifier")


def _modal(
    root: etree._Element, identifier: str, text: str | None = None, title: str | None = None
) -> etree._Element:
    feedback = sub(root, "modalFeedback", outcomeIdentifier="FEEDBACK", identifier=identifier)
    feedback.set("showHide", "show")
    if title:
        feedback.set("title", title)
    if text is not None:
        append_markdown(feedback, text)
    return feedback


def _add_help(root: etree._Element, question: AnyQuestion) -> None:
    hints = _modal(root, HINTS_FEEDBACK, title="Hints")
    for hint in question.hints:
        append_markdown(sub(hints, "div", **{"class": HINT_CLASS}), hint)
    solution = _modal(root, SOLUTION_FEEDBACK, title="Solution")
    for step in question.solution_steps:
        part = sub(solution, "div", **{"class": STEP_CLASS})
        sub(part, "h4", step.title)
        append_markdown(part, step.body)
    if isinstance(question, CodeQuestion):
        fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", question.solution_code))])
        code = f"{fence}python\n{question.solution_code.rstrip()}\n{fence}"
        _labelled(solution, FINAL_CLASS, "Reference solution", question.final_answer, code)
    else:
        _labelled(solution, FINAL_CLASS, "Final answer", question.final_answer)
    _labelled(solution, QUICK_CHECK_CLASS, "Quick check", question.quick_check)
    mistakes = _labelled(solution, MISTAKES_CLASS, "Common mistakes")
    for mistake in question.common_mistakes:
        append_markdown(sub(mistakes, "div", **{"class": MISTAKE_CLASS}), mistake)


def _labelled(parent: etree._Element, name: str, label: str, *texts: str) -> etree._Element:
    part = sub(parent, "div", **{"class": name})
    sub(part, "h4", label, **{"class": LABEL_CLASS})
    for text in texts:
        append_markdown(part, text)
    return part


def manifest(
    questions: list[AnyQuestion], bank_name: str, paths: Mapping[str, str]
) -> etree._Element:
    root = etree.Element(f"{{{CP_NS}}}manifest", nsmap={None: CP_NS, "imsmd": MD_NS, "xsi": XSI})
    root.set("identifier", manifest_identifier(bank_name))
    root.set(
        f"{{{XSI}}}schemaLocation",
        f"{CP_NS} http://www.imsglobal.org/xsd/imscp_v1p1.xsd "
        f"{MD_NS} http://www.imsglobal.org/xsd/imsmd_v1p2p4.xsd",
    )
    metadata = sub(root, "metadata")
    sub(metadata, "schema", "QTIv2.1 Package")
    sub(metadata, "schemaversion", "2.1")
    sub(root, "organizations")
    resources = sub(root, "resources")
    for question in questions:
        href = paths[question.id]
        resource = sub(resources, "resource", identifier=f"RES-{item_identifier(question.id)}")
        resource.set("type", ITEM_TYPE)
        resource.set("href", href)
        lom_metadata(sub(resource, "metadata"), question)
        sub(resource, "file", href=href)
    return root


def lom_metadata(metadata: etree._Element, question: AnyQuestion) -> None:
    lom = etree.SubElement(metadata, f"{{{MD_NS}}}lom")
    general = sub(lom, "general")
    sub(general, "identifier", question.id)
    for tag in question.tags:
        sub(sub(general, "keyword"), "langstring", tag, **{XML_LANG: "en"})
    difficulty = sub(sub(lom, "educational"), "difficulty")
    sub(sub(difficulty, "source"), "langstring", "LOMv1.0", **{XML_LANG: "x-none"})
    value = LOM_DIFFICULTY[question.difficulty]
    sub(sub(difficulty, "value"), "langstring", value, **{XML_LANG: "x-none"})


# --- import ---


@dataclass(frozen=True)
class ItemMeta:
    """What a manifest says of an item beside the item itself."""

    tags: list[str]
    difficulty: str | None


def parse(data: bytes) -> Parsed:
    """A QTI 2.1 content package (zip), or one assessmentItem XML file, as questions.

    A hostile or malformed file (a zip or XML attack, malformed XML, a manifest that is not one
    or names a missing file) raises UnsafeFileError and nothing is imported; an item that cannot
    become a question is a Problem naming the item, and the other items are imported."""
    if not data.startswith(b"PK"):
        return _parse_items({"item.xml": (data, ItemMeta([], None))})
    entries = read_zip(data)
    if MANIFEST not in entries:
        raise UnsafeFileError(f"the zip has no {MANIFEST}: it is not an IMS content package")
    return _parse_items(_manifest_items(entries))


def _xml(name: str, data: bytes) -> Element:
    try:
        return parse_xml(data)
    except UnsafeFileError as exc:
        raise UnsafeFileError(f"{name}: {exc}") from None


def _manifest_items(entries: dict[str, bytes]) -> dict[str, tuple[bytes, ItemMeta]]:
    root = _xml(MANIFEST, entries[MANIFEST])
    if local(root.tag) != "manifest":
        raise UnsafeFileError(f"{MANIFEST}: its root is <{local(root.tag)}>, not <manifest>")
    items: dict[str, tuple[bytes, ItemMeta]] = {}
    for resource in root.iter():
        if local(resource.tag) != "resource" or not resource.get("type", "").startswith(
            "imsqti_item_xmlv2"
        ):
            continue
        href = resource.get("href") or next(
            (f.get("href") for f in resource if local(f.tag) == "file" and f.get("href")), None
        )
        if not href:
            raise UnsafeFileError(
                f"{MANIFEST}: the item resource {resource.get('identifier')!r} names no file"
            )
        path = str(PurePosixPath(href))
        if path not in entries:
            raise UnsafeFileError(
                f"{MANIFEST}: names the item file {href!r}, which the zip does not hold"
            )
        items[path] = (entries[path], _item_meta(resource))
    return items


def _item_meta(resource: Element) -> ItemMeta:
    tags, difficulty = [], None
    for element in resource.iter():
        name = local(element.tag)
        if name == "keyword":
            tags += [text.strip() for text in element.itertext() if text.strip()]
        elif name == "difficulty":
            values = [e for e in element.iter() if local(e.tag) == "value"]
            words = [t.strip().lower() for v in values for t in v.itertext() if t.strip()]
            difficulty = next((FROM_LOM[w] for w in words if w in FROM_LOM), None)
    return ItemMeta(tags, difficulty)


def _parse_items(items: dict[str, tuple[bytes, ItemMeta]]) -> Parsed:
    trees = {name: _xml(name, content) for name, (content, _) in items.items()}
    parsed = Parsed()
    if not trees:
        parsed.problems.append(Problem(MANIFEST, "resources", "the package lists no QTI 2.x items"))
    seen: set[str] = set()
    for name, root in trees.items():
        raw = item_to_raw(root, name, items[name][1], parsed)
        if raw is None:
            continue
        try:
            question = QuestionAdapter.validate_python(raw)
        except ValidationError as exc:
            parsed.problems += validation_problems(name, exc)
            continue
        if question.id in seen:
            parsed.problems.append(
                Problem(name, "identifier", f"another item has the id {question.id!r}")
            )
            continue
        seen.add(question.id)
        parsed.questions.append(question)
        if topic := topic_from_path(name):
            parsed.topic_of[question.id] = topic
    return parsed


_INTERACTIONS = {"choiceInteraction", "textEntryInteraction"}


def item_to_raw(root: Element, name: str, meta: ItemMeta, parsed: Parsed) -> dict[str, Any] | None:
    """The question an assessmentItem describes, as data for the schema; None, with a Problem
    in `parsed`, when it cannot be one."""
    if local(root.tag) != "assessmentItem":
        parsed.problems.append(Problem(name, "", f"<{local(root.tag)}> is not an assessmentItem"))
        return None
    body = _child(root, "itemBody")
    interaction, why = _one_interaction(root, body)
    if interaction is None or body is None:
        parsed.problems.append(Problem(name, *why))
        return None
    kind = local(interaction.tag)
    response = _response(root, interaction.get("responseIdentifier", ""))
    if response is None:
        parsed.problems.append(Problem(name, kind, "its responseDeclaration is missing"))
        return None
    raw: dict[str, Any] = {"id": _question_id(root), "prompt": _prompt(body, interaction)}
    try:
        if kind == "choiceInteraction":
            raw |= _choice_fields(root, interaction, response, name, parsed)
        else:
            raw |= _entry_fields(root, body, interaction, response)
    except ValueError as exc:
        parsed.problems.append(Problem(name, kind, str(exc)))
        return None
    raw |= {"difficulty": meta.difficulty, "tags": _tags(meta.tags)}
    raw |= _help(root, raw.pop("_key"))
    return complete(raw, name, "QTI", parsed)


def _one_interaction(root: Element, body: Element | None) -> tuple[Element | None, list[str]]:
    """The item's one interaction of a kind we import, or the field and message saying why
    there is none."""
    found = [
        e for e in (body.iter() if body is not None else []) if local(e.tag).endswith("Interaction")
    ]
    if len(found) != 1:
        kinds = ", ".join(sorted({local(e.tag) for e in found})) or "none"
        return None, ["itemBody", f"an item needs exactly one interaction to import; found {kinds}"]
    kind = local(found[0].tag)
    if kind in _INTERACTIONS:
        return found[0], []
    why = (
        "an essay has no answer key to grade by"
        if kind == "extendedTextInteraction"
        else "no question type of ours matches it"
    )
    item = root.get("identifier")
    return None, [kind, f"item {item!r} uses {kind}, which is not imported: {why}"]


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if local(c.tag) == name), None)


def _children(element: Element | None, name: str) -> list[Element]:
    return [c for c in element if local(c.tag) == name] if element is not None else []


def _response(root: Element, identifier: str) -> Element | None:
    declarations = _children(root, "responseDeclaration")
    return next((d for d in declarations if d.get("identifier") == identifier), None)


def _slug(text: str) -> str:
    """Text as one of our slugs (ids, tags); empty when it has no letter or digit."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:SLUG_LENGTH].strip("-")


def _question_id(root: Element) -> str:
    identifier = root.get("identifier", "")
    if identifier.startswith("q_") and re.fullmatch(r"[a-z0-9-]+", identifier[2:]):
        return identifier[2:]
    return _slug(identifier) or "imported-item"


def _tags(tags: list[str]) -> list[str]:
    slugs = [_slug(tag) for tag in tags]
    return [s for i, s in enumerate(slugs) if s and s not in slugs[:i]]


def _prompt(body: Element, interaction: Element) -> str:
    """The item body without its interaction (nor the unit beside a box), then the
    interaction's own prompt, as Markdown."""

    def skip(element: Element) -> bool:
        return (
            element is interaction
            or UNIT_CLASS in classes(element)
            or local(element.tag) == "feedbackBlock"
        )

    texts = [to_markdown(body, skip)]
    own = _child(interaction, "prompt")
    if own is not None:
        texts.append(to_markdown(own))
    return "\n\n".join(text for text in texts if text)


def _values(parent: Element | None) -> list[str]:
    return (
        [(v.text or "").strip() for v in parent.iter() if local(v.tag) == "value"]
        if parent is not None
        else []
    )


def _map_entries(response: Element) -> list[Element]:
    return [e for e in response.iter() if local(e.tag) == "mapEntry"]


def _choice_fields(
    root: Element, interaction: Element, response: Element, name: str, parsed: Parsed
) -> dict[str, Any]:
    correct = set(_values(_child(response, "correctResponse")))
    if not correct:  # some tools give the key by the mapping alone
        correct = {
            e.get("mapKey", "")
            for e in _map_entries(response)
            if float(e.get("mappedValue", "0")) > 0
        }
    feedback = {f.get("identifier"): f for f in _children(root, "modalFeedback")}
    options: list[dict[str, Any]] = []
    for index, choice in enumerate(_children(interaction, "simpleChoice")):
        identifier = choice.get("identifier", "")
        inline = next((e for e in choice.iter() if local(e.tag) == "feedbackInline"), None)
        source = inline if inline is not None else feedback.get(identifier)
        right = identifier in correct
        said = to_markdown(source) if source is not None else ""
        options.append(
            {
                "text": to_markdown(choice, lambda e: local(e.tag) == "feedbackInline"),
                "correct": right,
                "feedback": option_feedback(said, right, name, index, parsed),
            }
        )
    single = interaction.get("maxChoices", "1") == "1"
    key = ", ".join(str(o["text"]) for o in options if o["correct"])
    return {
        "type": "single_choice" if single else "multiple_select",
        "options": options,
        "shuffle": interaction.get("shuffle", "false") == "true",
        "_key": key,
    }


def _entry_fields(
    root: Element, body: Element, interaction: Element, response: Element
) -> dict[str, Any]:
    base = response.get("baseType", "string")
    correct = _values(_child(response, "correctResponse"))
    if base in ("float", "integer"):
        if not correct:
            raise ValueError("a numeric item needs its correctResponse")
        value = float(correct[0])
        if not math.isfinite(value):
            raise ValueError(f"the correct response {correct[0]!r} is not a finite number")
        unit = next(
            (" ".join(e.itertext()).strip() for e in body.iter() if UNIT_CLASS in classes(e)), None
        )
        key = f"{number_text(value)} {unit}" if unit else number_text(value)
        fields = {
            "type": "numeric",
            "answer": {"value": value, "tolerance": _tolerance(root, value)},
            "_key": key,
        }
        return fields | ({"unit": unit} if unit else {})
    entries = _map_entries(response)
    forms = correct + [e.get("mapKey", "") for e in entries if float(e.get("mappedValue", "0")) > 0]
    if not [f for f in forms if f]:
        raise ValueError("a text item needs a correctResponse or a mapping of accepted answers")
    if SHAPE_CLASS in classes(interaction):
        try:
            shape = parse_shape(forms[0])
        except AnswerFormatError as exc:
            raise ValueError(f"the shape {forms[0]!r} cannot be read: {exc}") from None
        return {"type": "tensor_shape", "answer": shape, "_key": format_answer(shape)}
    case = all(e.get("caseSensitive", "true") == "true" for e in entries)
    accepted = authored_forms([f for f in forms if f])
    answer = {"accepted": accepted, "case_sensitive": case}
    return {"type": "short_text", "answer": answer, "_key": accepted[0]}


def _tolerance(root: Element, value: float) -> float:
    """The absolute tolerance of the item's `equal` test: its lower bound where the two
    differ (never accept more than the item did); 0 for an exact match."""
    test = next((e for e in root.iter() if local(e.tag) == "equal"), None)
    if test is None or test.get("toleranceMode", "exact") == "exact":
        return 0.0
    bounds = [float(b) for b in test.get("tolerance", "0").split()]
    bound = min(bounds) if bounds else 0.0
    if test.get("toleranceMode") == "relative":  # a percentage of the value
        return abs(value) * bound / 100
    return bound


def _help(root: Element, key: str) -> dict[str, Any]:
    """Hints and the worked solution from our feedback's classed divs, where the item has
    them; the final answer otherwise from the key."""

    def parts(name: str) -> list[Element]:
        return [e for e in root.iter() if local(e.tag) == "div" and name in classes(e)]

    def text(element: Element) -> str:
        return to_markdown(element, lambda e: LABEL_CLASS in classes(e))

    def titled(step: Element) -> dict[str, Any]:
        heading = next((e for e in step if local(e.tag).startswith("h")), None)
        title = " ".join("".join(heading.itertext()).split()) if heading is not None else ""
        return {"title": title or "Step", "body": to_markdown(step, lambda e: e is heading)}

    found = {
        "hints": [text(e) for e in parts(HINT_CLASS)],
        "solution_steps": [titled(e) for e in parts(STEP_CLASS)],
        "final_answer": next((text(e) for e in parts(FINAL_CLASS)), "") or key,
        "quick_check": next((text(e) for e in parts(QUICK_CHECK_CLASS)), ""),
        "common_mistakes": [text(e) for e in parts(MISTAKE_CLASS)],
    }
    return {field: value for field, value in found.items() if value}
