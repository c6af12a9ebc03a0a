"""Moodle XML: export a bank for Moodle's question bank, and import one exported from it.

Mapping (both ways; app.bank.formats.mapping holds what GIFT shares):
- single_choice: `multichoice`, single=true, the key at fraction 100, the others 0; each
  option's feedback in its `<feedback>`; shuffle as `<shuffleanswers>`.
- multiple_select: `multichoice`, single=false; each right option 100/n_right, each wrong one
  -100/n_wrong, which is our partial credit exactly (Moodle adds the picked fractions and
  clamps to 0..100%). With at most 7 options, 1/n for n = 1..7 is always one of Moodle's
  allowed fractions (100, 50, 33.33333, 25, 20, 16.66667, 14.28571 and their negatives), so
  written to 7 significant digits, as Moodle writes them, they import under its default
  "error if the grade is not listed".
- numeric: `numerical`, the answer at 100 with its absolute `<tolerance>`; the unit as the one
  unit (multiplier 1) with unit grading off and units not shown (showunits 3).
- short_text: `shortanswer`, each accepted form an answer at 100, `<usecase>` for
  case_sensitive; a `*` in a form is written `\\*` (Moodle's wildcard otherwise).
- tensor_shape: `shortanswer` with every form app.bank.grading accepts, with and without
  spaces; on import a short answer whose forms all spell one shape, one of them
  torch.Size([...]), becomes a tensor_shape again.
- hints as `<hint>`, tags as `<tags>` with the difficulty as `difficulty-<x>`, the name and
  the idnumber are our id; the topic is the category `$course$/top/<topic>`.
- Text is written with format="markdown": Moodle imports and renders Markdown, and the text
  comes back byte for byte, which HTML would not. HTML text from Moodle (its default) is read
  as Markdown by app.bank.formats.html_text.
- The general feedback carries the solution steps, final answer, quick check and common
  mistakes in fixed sections (mapping.general_feedback), so they come back whole.
- Not carried: `check` blocks and predict_then_run's run (reported as a fallback), code
  questions (an `essay` with the starter as its response template and the reference solution
  for the grader; reported), questions with variants (skipped; reported).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.etree.ElementTree import Element

from lxml import etree

from app.bank.formats import Exported, Left, Parsed
from app.bank.formats.html_text import html_to_markdown
from app.bank.formats.mapping import (
    Foreign,
    ForeignAnswer,
    all_tags,
    fallback_reason,
    general_feedback,
    import_foreign,
    shape_forms,
    skip_reason,
    slugify,
)
from app.bank.formats.safety import UnsafeFileError, parse_xml
from app.bank.schema import (
    AnyQuestion,
    ChoiceQuestion,
    CodeQuestion,
    MultipleSelect,
    Numeric,
    ShortText,
    TensorShape,
)

SOURCE = "Moodle XML"
MARKDOWN = "markdown"
CATEGORY_ROOT = "$course$/top"


# --- export ---


def export(
    questions: Sequence[AnyQuestion],
    *,
    bank_name: str,
    topic_of: Mapping[str, str] | None = None,
) -> Exported:
    """`questions` as a Moodle XML quiz file; `topic_of` (id -> topic) writes categories."""
    quiz = etree.Element("quiz")
    exported = Exported(b"", f"{bank_name}.moodle.xml", "application/xml")
    category = None
    for question in questions:
        skipped = skip_reason(question)
        if skipped:
            exported.skipped.append(Left(question.id, skipped))
            continue
        topic = (topic_of or {}).get(question.id)
        if topic and topic != category:
            _category(quiz, topic)
            category = topic
        fallback = fallback_reason(question)
        if fallback:
            exported.fallbacks.append(Left(question.id, fallback))
        quiz.append(question_element(question))
    exported.data = etree.tostring(quiz, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return exported


def _category(quiz: etree._Element, topic: str) -> None:
    element = etree.SubElement(quiz, "question", type="category")
    _sub_text(etree.SubElement(element, "category"), f"{CATEGORY_ROOT}/{topic}")


def _sub_text(parent: etree._Element, text: str) -> etree._Element:
    node = etree.SubElement(parent, "text")
    node.text = text
    return node


def _formatted(parent: etree._Element, tag: str, text: str, fmt: str = MARKDOWN) -> None:
    _sub_text(etree.SubElement(parent, tag, format=fmt), text)


def _value(parent: etree._Element, tag: str, value: str) -> None:
    etree.SubElement(parent, tag).text = value


def question_element(question: AnyQuestion) -> etree._Element:
    kind = _KINDS[type(question).__name__]
    element = etree.Element("question", type=kind)
    _sub_text(etree.SubElement(element, "name"), question.id)
    _formatted(element, "questiontext", question.prompt)
    _formatted(element, "generalfeedback", general_feedback(question))
    for tag, value in (("defaultgrade", "1"), ("penalty", "0.3333333"), ("hidden", "0")):
        _value(element, tag, value)
    _value(element, "idnumber", question.id)
    _BODIES[kind](element, question)
    for hint in question.hints:
        _formatted(element, "hint", hint)
    tags = etree.SubElement(element, "tags")
    for tag in all_tags(question):
        _sub_text(etree.SubElement(tags, "tag"), tag)
    return element


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _fraction(share: float) -> str:
    return f"{100 * share:.7g}"


def _answer(parent: etree._Element, fraction: str, text: str, feedback: str = "") -> etree._Element:
    answer = etree.SubElement(parent, "answer", fraction=fraction, format=MARKDOWN)
    _sub_text(answer, text)
    _formatted(answer, "feedback", feedback)
    return answer


def _choice_body(element: etree._Element, question: AnyQuestion) -> None:
    assert isinstance(question, ChoiceQuestion)
    single = not isinstance(question, MultipleSelect)
    _value(element, "single", "true" if single else "false")
    _value(element, "shuffleanswers", "true" if question.shuffle else "false")
    _value(element, "answernumbering", "ABCD")
    for tag in ("correctfeedback", "partiallycorrectfeedback", "incorrectfeedback"):
        _formatted(element, tag, "")
    right = len(question.correct_indexes())
    wrong = len(question.options) - right
    for option in question.options:
        if single:
            share = 1.0 if option.correct else 0.0
        else:
            share = 1 / right if option.correct else -1 / wrong
        _answer(element, _fraction(share), option.text, option.feedback)


def _numerical_body(element: etree._Element, question: AnyQuestion) -> None:
    assert isinstance(question, Numeric)
    expected = question.expected()
    answer = _answer(element, "100", _number(expected.value))
    _value(answer, "tolerance", _number(expected.tolerance))
    if question.unit:
        unit = etree.SubElement(etree.SubElement(element, "units"), "unit")
        _value(unit, "multiplier", "1")
        _value(unit, "unit_name", question.unit)
    for tag, value in (("unitgradingtype", "0"), ("unitpenalty", "0"), ("showunits", "3")):
        _value(element, tag, value)
    _value(element, "unitsleft", "0")


def _short_body(element: etree._Element, question: AnyQuestion) -> None:
    if isinstance(question, TensorShape):
        forms, case = shape_forms(question.expected()), False
    else:
        assert isinstance(question, ShortText)
        forms, case = question.answer.accepted, question.answer.case_sensitive
    _value(element, "usecase", "1" if case else "0")
    for form in forms:
        _answer(element, "100", form.replace("*", "\\*"))


def _essay_body(element: etree._Element, question: AnyQuestion) -> None:
    assert isinstance(question, CodeQuestion)
    for tag, value in (
        ("responseformat", "monospaced"),
        ("responserequired", "1"),
        ("responsefieldlines", "20"),
        ("attachments", "0"),
        ("attachmentsrequired", "0"),
    ):
        _value(element, tag, value)
    reference = f"Reference solution:\n\n```python\n{question.solution_code.rstrip()}\n```"
    _formatted(element, "graderinfo", reference)
    _formatted(element, "responsetemplate", question.starter, "plain_text")


_KINDS = {
    "SingleChoice": "multichoice",
    "MultipleSelect": "multichoice",
    "Numeric": "numerical",
    "ShortText": "shortanswer",
    "TensorShape": "shortanswer",
    "CodeQuestion": "essay",
}
_BODIES = {
    "multichoice": _choice_body,
    "numerical": _numerical_body,
    "shortanswer": _short_body,
    "essay": _essay_body,
}


# --- import ---


def parse(data: bytes) -> Parsed:
    """The questions of a Moodle XML file. A file that is not safe, well-formed Moodle XML
    raises UnsafeFileError; a question that cannot be imported is a problem, and the others
    are still read."""
    root = parse_xml(data)
    if root.tag != "quiz":
        raise UnsafeFileError(f"the XML's root element is <{root.tag}>, not Moodle XML's <quiz>")
    parsed, taken, topic = Parsed(), set[str](), None
    number = 0
    for element in root:
        if element.tag != "question":
            continue
        kind = element.get("type", "")
        if kind == "category":
            path = _child_text(element, "category")
            topic = slugify(path.rstrip("/").rsplit("/", 1)[-1]) or None
            continue
        number += 1
        import_foreign(_foreign(element, kind, number, topic), number, taken, SOURCE, parsed)
    return parsed


def _child_text(element: Element, tag: str) -> str:
    node = element.find(f"{tag}/text")
    return (node.text or "") if node is not None else ""


def _markdown(element: Element | None) -> str:
    """The text of a formatted element (questiontext, feedback, hint...) as Markdown."""
    if element is None:
        return ""
    node = element.find("text")
    text = (node.text or "") if node is not None else ""
    return html_to_markdown(text) if element.get("format", "html") == "html" else text.strip()


def _flag(element: Element, tag: str, default: bool) -> bool:
    node = element.find(tag)
    if node is None or node.text is None:
        return default
    return node.text.strip().lower() in ("1", "true")


def _foreign(element: Element, kind: str, number: int, topic: str | None) -> Foreign:
    name = _child_text(element, "name").strip()
    idnumber = (element.findtext("idnumber") or "").strip()
    unit = element.findtext("units/unit/unit_name")
    return Foreign(
        kind=kind,
        item=f"question {number} '{name[:60]}'",
        ids=[idnumber, name],
        text=_markdown(element.find("questiontext")),
        general=_markdown(element.find("generalfeedback")),
        answers=[_answer_of(answer, kind) for answer in element.findall("answer")],
        single=_flag(element, "single", True),
        shuffle=_flag(element, "shuffleanswers", True),
        case_sensitive=_flag(element, "usecase", False),
        unit=unit.strip() if unit and unit.strip() else None,
        hints=[_markdown(hint) for hint in element.findall("hint")],
        tags=[tag.findtext("text") or "" for tag in element.findall("tags/tag")],
        topic=topic,
    )


def _answer_of(answer: Element, kind: str) -> ForeignAnswer:
    try:
        fraction = float(answer.get("fraction", "0")) / 100
    except ValueError:
        fraction = 0.0
    # Answers to short-answer and numerical questions are plain text, whatever format says.
    plain = kind in ("shortanswer", "numerical", "truefalse")
    text = (answer.findtext("text") or "").strip() if plain else _markdown(answer)
    try:
        tolerance = float(answer.findtext("tolerance") or 0)
    except ValueError:
        tolerance = 0.0
    return ForeignAnswer(text, fraction, _markdown(answer.find("feedback")), tolerance)
