"""What Moodle XML and GIFT share: which questions they can carry, how our fields that they lack
travel in the general feedback, and how an imported question becomes a valid one of ours.

The general feedback (shown after answering, in Moodle as with us) carries the worked solution
in fixed sections, so a question exported by torchquiz comes back whole:

    ### Solution / #### <step title> / <step body> ... / ### Answer / ### Quick check /
    ### Common mistakes (a `- ` list)

A foreign question's general feedback becomes one step called "Solution". A required field the
file does not carry gets a placeholder starting with PLACEHOLDER_MARK, and the import records a
warning naming the question and field: the question validates, and an author can find the gap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.bank.claims import untied_claims
from app.bank.formats import Parsed
from app.bank.grading import parse_shape
from app.bank.loader import Problem
from app.bank.schema import (
    QUESTION_TYPE_NAMES,
    AnyQuestion,
    CodeQuestion,
    Difficulty,
    QuestionAdapter,
    ShortText,
)
from app.core.errors import AnswerFormatError

PLACEHOLDER_MARK = "TODO (imported):"
DIFFICULTY_TAG = "difficulty-"
DEFAULT_DIFFICULTY = Difficulty.medium
DEFAULT_TAG = "imported"

SOLUTION, ANSWER, QUICK_CHECK, MISTAKES = (
    "### Solution",
    "### Answer",
    "### Quick check",
    "### Common mistakes",
)
_SECTIONS = (SOLUTION, ANSWER, QUICK_CHECK, MISTAKES)
_STEP = "#### "
_FENCE = re.compile(r"^\s*(```|~~~)")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


# --- export: what the formats carry ---


def skip_reason(question: AnyQuestion) -> str | None:
    """Why a question cannot be exported at all to Moodle XML or GIFT, or None."""
    if question.variants is not None:
        return (
            "its answer is computed by torch for each variant (random sizes); Moodle has no "
            "equivalent, and one fixed variant would not be the question"
        )
    return None


def fallback_reason(question: AnyQuestion) -> str | None:
    """Why a question is exported in a weaker form than ours, or None when it travels whole."""
    if isinstance(question, CodeQuestion):
        return (
            "exported as an essay graded by hand (prompt, starter code as the response "
            "template, reference solution for the grader): Moodle cannot run the hidden tests"
        )
    if isinstance(question, ShortText) and question.answer.index_of is not None:
        return (
            "exported as a short answer with the accepted expressions only: Moodle matches "
            "text, while torchquiz accepts any index that selects the same elements"
        )
    if question.predict_then_run:
        return (
            f"exported as a plain {question.type}: Moodle grades the answer but cannot run "
            "the prompt's code afterwards"
        )
    return None


def general_feedback(question: AnyQuestion) -> str:
    """The solution, answer, quick check and common mistakes, in the sections above."""
    parts = [SOLUTION]
    for step in question.solution_steps:
        parts += [_STEP + step.title, step.body]
    parts += [ANSWER, question.final_answer, QUICK_CHECK, question.quick_check, MISTAKES]
    parts.append("\n".join(_list_item(mistake) for mistake in question.common_mistakes))
    return "\n\n".join(parts)


def _list_item(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(["- " + lines[0], *[("  " + line).rstrip() for line in lines[1:]]])


def all_tags(question: AnyQuestion) -> list[str]:
    return [*question.tags, DIFFICULTY_TAG + question.difficulty.value]


def shape_forms(shape: list[int]) -> list[str]:
    """Every way app.bank.grading reads a shape, with and without spaces (Moodle compares
    short answers as text): (2, 3), [2, 3], 2, 3, torch.Size([2, 3])."""
    forms: list[str] = []
    for separator in (", ", ","):
        body = separator.join(map(str, shape))
        tupled = f"({body},)" if len(shape) == 1 else f"({body})"
        forms += [tupled, f"[{body}]", f"torch.Size([{body}])"]
        if shape:
            forms.append(body)
    return list(dict.fromkeys(forms))


def shape_of(forms: Iterable[str]) -> list[int] | None:
    """The shape that short-answer forms spell, when they are a tensor shape exported by us:
    all read as the same shape and one is written torch.Size([...])."""
    forms = list(forms)
    if not any(form.strip().startswith("torch.Size(") for form in forms):
        return None
    try:
        shapes = {tuple(parse_shape(form)) for form in forms}
    except AnswerFormatError:
        return None
    return list(shapes.pop()) if len(shapes) == 1 else None


# --- import: from a format's fields to a valid question ---


def read_general_feedback(text: str) -> dict[str, Any]:
    """Our fields from a general feedback: all of them when it has our sections, else the
    text as one solution step."""
    sections = _split_sections(text)
    if not sections.get(SOLUTION):
        return {"solution_steps": [{"title": "Solution", "body": text}]} if text.strip() else {}
    found: dict[str, Any] = {"solution_steps": _steps(sections[SOLUTION])}
    if sections.get(ANSWER, "").strip():
        found["final_answer"] = sections[ANSWER].strip()
    if sections.get(QUICK_CHECK, "").strip():
        found["quick_check"] = sections[QUICK_CHECK].strip()
    mistakes = _list_items(sections.get(MISTAKES, ""))
    if mistakes:
        found["common_mistakes"] = mistakes
    return found


def _outside_fences(lines: list[str]) -> list[bool]:
    """For each line, whether it is outside a fenced code block (where headings count)."""
    outside, fenced = [], False
    for line in lines:
        if _FENCE.match(line):
            outside.append(False)
            fenced = not fenced
        else:
            outside.append(not fenced)
    return outside


def _split_sections(text: str) -> dict[str, str]:
    lines = text.split("\n")
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line, outside in zip(lines, _outside_fences(lines), strict=True):
        if outside and line.rstrip() in _SECTIONS:
            current = sections.setdefault(line.rstrip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(body) for name, body in sections.items()}


def _steps(text: str) -> list[dict[str, str]]:
    lines = text.split("\n")
    steps: list[dict[str, Any]] = []
    for line, outside in zip(lines, _outside_fences(lines), strict=True):
        if outside and line.startswith(_STEP):
            steps.append({"title": line[len(_STEP) :].strip(), "body": []})
        elif steps:
            steps[-1]["body"].append(line)
    return [{"title": s["title"], "body": "\n".join(s["body"]).strip()} for s in steps]


def _list_items(text: str) -> list[str]:
    items: list[list[str]] = []
    for line in text.strip("\n").split("\n"):
        if line.startswith("- "):
            items.append([line[2:]])
        elif items:
            items[-1].append(line.removeprefix("  "))
    return ["\n".join(item).strip() for item in items if "\n".join(item).strip()]


def split_tags(tags: Iterable[str]) -> tuple[Difficulty | None, list[str]]:
    """The difficulty from a `difficulty-<x>` tag, and the other tags as slugs."""
    difficulty, slugs = None, []
    for tag in tags:
        slug = slugify(tag)
        level = slug.removeprefix(DIFFICULTY_TAG)
        if slug.startswith(DIFFICULTY_TAG) and level in Difficulty.__members__:
            difficulty = Difficulty(level)
        elif slug and slug not in slugs:
            slugs.append(slug)
    return difficulty, slugs


def slugify(text: str) -> str:
    return _NOT_SLUG.sub("-", text.strip().lower()).strip("-")[:80].strip("-")


def question_id(candidates: Iterable[str], number: int, taken: set[str]) -> str:
    """A slug id from the first usable candidate (id number, then name), unique in the file."""
    base = next((s for s in map(slugify, candidates) if s), f"imported-{number}")
    qid, n = base, 2
    while qid in taken:
        qid, n = f"{base}-{n}", n + 1
    taken.add(qid)
    return qid


def placeholder(what: str, source: str) -> str:
    return f"{PLACEHOLDER_MARK} {what} was not in the {source} file; write it before publishing."


# Our required fields a format may lack, and the placeholder each gets.
_REQUIRED: dict[str, Callable[[str], Any]] = {
    "hints": lambda source: [placeholder("a hint", source)],
    "solution_steps": lambda source: [
        {"title": "Solution", "body": placeholder("the solution", source)}
    ],
    "final_answer": lambda source: placeholder("the final answer", source),
    "quick_check": lambda source: placeholder("a quick check", source),
    "common_mistakes": lambda source: [placeholder("a common mistake", source)],
}


def complete(data: dict[str, Any], item: str, source: str, parsed: Parsed) -> dict[str, Any]:
    """`data` with a placeholder (and a warning) for each required field the file lacked."""
    for name, make in _REQUIRED.items():
        if not data.get(name):
            data[name] = make(source)
            parsed.warnings.append(Problem(item, name, "not in the file: a placeholder marks it"))
    if data.get("difficulty") is None:
        data["difficulty"] = DEFAULT_DIFFICULTY
        message = f"no {DIFFICULTY_TAG}<easy|medium|hard> tag: set to {DEFAULT_DIFFICULTY}"
        parsed.warnings.append(Problem(item, "difficulty", message))
    if not data.get("tags"):
        data["tags"] = [DEFAULT_TAG]
        parsed.warnings.append(Problem(item, "tags", f"no tags: tagged '{DEFAULT_TAG}'"))
    return data


def option_feedback(feedback: str, correct: bool, item: str, index: int, parsed: Parsed) -> str:
    if feedback.strip():
        return feedback
    field = f"options[{index}].feedback"
    parsed.warnings.append(Problem(item, field, "not in the file: a placeholder marks it"))
    return f"{PLACEHOLDER_MARK} say why this option is {'right' if correct else 'wrong'}."


def validation_problems(item: str, exc: ValidationError) -> list[Problem]:
    """Each error as `torchquiz questions check` names it: `options[2].text`, no union tag."""
    problems = []
    for error in exc.errors():
        parts: list[str] = []
        for index, part in enumerate(error["loc"]):
            if index == 0 and part in QUESTION_TYPE_NAMES:
                continue
            parts.append(f"[{part}]" if isinstance(part, int) else ("." if parts else "") + part)
        field_path = "type" if error["type"].startswith("union_tag_") else "".join(parts)
        problems.append(Problem(item, field_path, error["msg"]))
    return problems


def add_question(data: dict[str, Any], item: str, topic: str | None, parsed: Parsed) -> None:
    """Validate `data` through the one schema; a failure is a problem naming item and field."""
    try:
        question = QuestionAdapter.validate_python(data)
    except ValidationError as exc:
        parsed.problems += validation_problems(item, exc)
        return
    parsed.questions.append(question)
    # The loader's rule for answers that are torch behaviours (app.bank.claims): an imported
    # question breaking it validates, but needs a check before it can be published.
    for field_path, why in untied_claims(question):
        parsed.warnings.append(Problem(item, field_path, why))
    if topic:
        parsed.topic_of[question.id] = topic


# --- a Moodle question as Moodle XML and GIFT both describe it, and what it becomes here ---


@dataclass
class ForeignAnswer:
    text: str
    fraction: float  # Moodle's: 1.0 is full marks, negative a penalty
    feedback: str = ""
    tolerance: float = 0.0


@dataclass
class Foreign:
    kind: str  # Moodle's question type: multichoice, truefalse, shortanswer, numerical, ...
    item: str  # how problems and warnings name it: "question 3 'name'"
    ids: list[str]  # candidates for our id, best first (Moodle's idnumber, then its name)
    text: str
    general: str = ""
    answers: list[ForeignAnswer] = field(default_factory=list)
    single: bool = True
    shuffle: bool = True
    case_sensitive: bool = False
    unit: str | None = None
    hints: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    topic: str | None = None


SKIPPED_KINDS = {
    "essay": "an essay is graded by hand; torchquiz grades every answer itself",
    "description": "a description is text without a question",
}


def import_foreign(
    foreign: Foreign, number: int, taken: set[str], source: str, parsed: Parsed
) -> None:
    """Add the question `foreign` describes to `parsed`, or a problem or warning saying why not."""
    if foreign.kind in SKIPPED_KINDS:
        message = f"not imported: {SKIPPED_KINDS[foreign.kind]}"
        parsed.warnings.append(Problem(foreign.item, "type", message))
        return
    build = _BUILDERS.get(foreign.kind)
    if build is None:
        known = ", ".join(sorted(_BUILDERS))
        message = f"the question type '{foreign.kind}' cannot be imported (supported: {known})"
        parsed.problems.append(Problem(foreign.item, "type", message))
        return
    answer = build(foreign, parsed)
    if answer is None:
        return
    difficulty, tags = split_tags(foreign.tags)
    data: dict[str, Any] = {
        "id": question_id(foreign.ids, number, taken),
        "difficulty": difficulty,
        "tags": tags,
        "prompt": foreign.text,
        "hints": [hint for hint in foreign.hints if hint.strip()],
        **read_general_feedback(foreign.general),
        **answer,
    }
    add_question(complete(data, foreign.item, source, parsed), foreign.item, foreign.topic, parsed)


def _full(answer: ForeignAnswer) -> bool:
    return answer.fraction >= 0.99999


def _choice(foreign: Foreign, parsed: Parsed) -> dict[str, Any] | None:
    options = []
    for index, answer in enumerate(foreign.answers):
        correct = _full(answer) if foreign.single else answer.fraction > 0
        feedback = option_feedback(answer.feedback, correct, foreign.item, index, parsed)
        options.append({"text": answer.text, "correct": correct, "feedback": feedback})
    kind = "single_choice" if foreign.single else "multiple_select"
    if foreign.single and any(0 < a.fraction < 0.99999 for a in foreign.answers):
        message = "partial credit on a single-choice option is not kept: only 100% counts right"
        parsed.warnings.append(Problem(foreign.item, "options", message))
    if not foreign.single and not _our_fractions(foreign.answers):
        message = (
            "the options' fractions differ from torchquiz's partial credit (each right pick "
            "1/right options, each wrong pick -1/wrong options): torchquiz's applies"
        )
        parsed.warnings.append(Problem(foreign.item, "options", message))
    return {"type": kind, "options": options, "shuffle": foreign.shuffle}


def _our_fractions(answers: list[ForeignAnswer]) -> bool:
    right = [a for a in answers if a.fraction > 0]
    wrong = [a for a in answers if a.fraction <= 0]
    return all(abs(a.fraction - 1 / len(right)) < 1e-5 for a in right) and all(
        abs(a.fraction + 1 / len(wrong)) < 1e-5 for a in wrong
    )


def _truefalse(foreign: Foreign, parsed: Parsed) -> dict[str, Any] | None:
    foreign.single, foreign.shuffle = True, False  # True before False, as Moodle shows them
    for answer in foreign.answers:
        answer.text = answer.text.strip().capitalize()
    return _choice(foreign, parsed)


def _accepted(foreign: Foreign, parsed: Parsed) -> list[ForeignAnswer]:
    full = [a for a in foreign.answers if _full(a)]
    if len(full) < len(foreign.answers):
        message = "answers worth less than 100% are not kept: torchquiz has no partial text credit"
        parsed.warnings.append(Problem(foreign.item, "answer", message))
    if not full:
        parsed.problems.append(Problem(foreign.item, "answer", "no answer is worth 100%"))
    return full


def _short(foreign: Foreign, parsed: Parsed) -> dict[str, Any] | None:
    full = _accepted(foreign, parsed)
    if not full:
        return None
    if any(re.search(r"(?<!\\)\*", a.text) for a in full):
        message = "a * wildcard is matched as a literal *: torchquiz has no wildcards"
        parsed.warnings.append(Problem(foreign.item, "answer.accepted", message))
    forms = [a.text.replace("\\*", "*") for a in full]
    shape = shape_of(forms)
    if shape is not None:
        return {"type": "tensor_shape", "answer": shape}
    answer: dict[str, Any] = {"accepted": forms}
    if foreign.case_sensitive:
        answer["case_sensitive"] = True
    return {"type": "short_text", "answer": answer}


def _numerical(foreign: Foreign, parsed: Parsed) -> dict[str, Any] | None:
    # "*" is Moodle's any-other-answer, there only for its feedback.
    foreign.answers = [a for a in foreign.answers if a.text.strip() != "*"]
    full = _accepted(foreign, parsed)
    if not full:
        return None
    if len(full) > 1:
        message = "more than one answer is worth 100%: the first is kept"
        parsed.warnings.append(Problem(foreign.item, "answer", message))
    try:
        value = float(full[0].text)
    except ValueError:
        message = f"the answer {full[0].text[:40]!r} is not a number"
        parsed.problems.append(Problem(foreign.item, "answer.value", message))
        return None
    answer = {"value": value, "tolerance": abs(full[0].tolerance)}
    unit = {"unit": foreign.unit} if foreign.unit else {}
    return {"type": "numeric", "answer": answer, **unit}


_BUILDERS: dict[str, Callable[[Foreign, Parsed], dict[str, Any] | None]] = {
    "multichoice": _choice,
    "truefalse": _truefalse,
    "shortanswer": _short,
    "numerical": _numerical,
}
