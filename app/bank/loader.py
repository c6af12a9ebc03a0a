"""Read the question bank from files, collecting every problem before failing.

Layout: `<root>/<topic-slug>/topic.yaml` plus one `<question-id>.yaml` per question; the study
modes' content (app.study) in `bugs/<id>.yaml` and `worked/<id>.yaml` beside them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.bank.claims import untied_claims
from app.bank.schema import (
    DIFFICULTY_ORDER,
    QUESTION_TYPE_NAMES,
    AnyQuestion,
    BugHunt,
    QuestionAdapter,
    Topic,
    WorkedSeries,
    note_sections,
)
from app.core.bounds import storable_text

TOPIC_FILE = "topic.yaml"
BUGS_FOLDER, WORKED_FOLDER = "bugs", "worked"  # study content, one file per bug or series
# libyaml's parser where PyYAML has it (its wheels do): the same safe loader, parsing the bank
# in 20 ms instead of 170 ms, which `torchquiz serve` pays twice on every start.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Problem:
    path: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else self.path
        return f"{where}: {self.message}"


class BankInvalidError(Exception):
    """The bank has problems; `problems` lists all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(format_report(problems))


@dataclass(frozen=True)
class LoadedQuestion:
    question: AnyQuestion
    path: Path
    content_hash: str


@dataclass
class LoadedTopic:
    slug: str
    topic: Topic
    path: Path
    content_hash: str
    questions: list[LoadedQuestion] = field(default_factory=list)
    bugs: list[BugHunt] = field(default_factory=list)
    worked: list[WorkedSeries] = field(default_factory=list)


@dataclass
class Bank:
    topics: dict[str, LoadedTopic]

    def question_count(self) -> int:
        return sum(len(t.questions) for t in self.topics.values())


def content_hash(model: Any) -> str:
    """Hash of the validated content, so whitespace or key order changes are not new versions."""
    # Defaults left out: a new optional field in the schema is not a new version of everything.
    return data_hash(model.model_dump(mode="json", exclude_defaults=True))


def data_hash(data: Any) -> str:
    """Hash of JSON-able data, independent of key order."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def format_report(problems: list[Problem]) -> str:
    lines = [f"The question bank has {len(problems)} problem(s):"]
    lines += [f"  {p}" for p in problems]
    return "\n".join(lines)


def load_bank(root: Path) -> Bank:
    """Load and validate every topic under `root`; raise BankInvalidError listing every problem."""
    problems: list[Problem] = []
    topics: dict[str, LoadedTopic] = {}
    if not root.is_dir():
        raise BankInvalidError([Problem(str(root), "", "question bank folder does not exist")])
    # `_schema` and hidden folders hold tooling, not topics.
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] not in "._"):
        loaded = _load_topic(folder, root, problems)
        if loaded is not None:
            topics[loaded.slug] = loaded
    _check_unique_ids(topics, root, problems)
    if not topics and not problems:
        problems.append(Problem(str(root), "", "no topic folders found: the bank is empty"))
    if problems:
        raise BankInvalidError(problems)
    return Bank(topics=topics)


def _load_topic(folder: Path, root: Path, problems: list[Problem]) -> LoadedTopic | None:
    rel = folder.relative_to(root)
    if not _SLUG.match(folder.name):
        problems.append(Problem(str(rel), "", "topic folder name must be a lowercase slug"))
        return None
    topic_path = folder / TOPIC_FILE
    topic = _parse(topic_path, root, Topic, problems) if topic_path.exists() else None
    if not topic_path.exists():
        problems.append(Problem(str(topic_path.relative_to(root)), "", "missing topic file"))
    questions = []
    for path in sorted(folder.glob("*.yml")):
        problems.append(Problem(str(path.relative_to(root)), "", "name question files *.yaml"))
    for path in sorted(folder.glob("*.yaml")):
        if path.name == TOPIC_FILE:
            continue
        question = _parse(path, root, QuestionAdapter, problems)
        if question is not None and _named_as_file(question.id, path, root, problems):
            where = str(path.relative_to(root))
            problems += [Problem(where, f, message) for f, message in untied_claims(question)]
            questions.append(LoadedQuestion(question, path, content_hash(question)))
    bugs = _load_folder(folder / BUGS_FOLDER, root, BugHunt, problems)
    worked = _load_folder(folder / WORKED_FOLDER, root, WorkedSeries, problems)
    if topic is None:
        return None
    _check_flashcard_notes(topic, str(topic_path.relative_to(root)), problems)
    questions.sort(key=lambda q: (DIFFICULTY_ORDER[q.question.difficulty], q.question.id))
    return LoadedTopic(folder.name, topic, topic_path, content_hash(topic), questions, bugs, worked)


def _named_as_file(item_id: str, path: Path, root: Path, problems: list[Problem]) -> bool:
    if item_id == path.stem:
        return True
    message = f"'{item_id}' must equal the file name '{path.stem}'"
    problems.append(Problem(str(path.relative_to(root)), "id", message))
    return False


def _load_folder(folder: Path, root: Path, schema: Any, problems: list[Problem]) -> list[Any]:
    """Every `<id>.yaml` of a study folder, in file-name order (the order pages list them)."""
    items = []
    for path in sorted(folder.glob("*.yaml")):
        item = _parse(path, root, schema, problems)
        if item is not None and _named_as_file(item.id, path, root, problems):
            items.append(item)
    return items


def _check_flashcard_notes(topic: Topic, rel: str, problems: list[Problem]) -> None:
    """Each card links to its section of the notes in Learn mode: the section must exist."""
    sections = note_sections(topic.notes)
    for index, card in enumerate(topic.flashcards):
        if card.note not in sections:
            known = "; ".join(sections) or "none"
            message = f"'{card.note}' is not a `##` heading of the notes (they are: {known})"
            problems.append(Problem(rel, f"flashcards[{index}].note", message))


def _parse(path: Path, root: Path, schema: Any, problems: list[Problem]) -> Any:
    rel = str(path.relative_to(root))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(rel, "", "file is not UTF-8 text"))
        return None
    return parse_text(text, rel, schema, problems)


def parse_text(text: str, rel: str, schema: Any, problems: list[Problem]) -> Any:
    """One file's YAML, validated by `schema`; every problem appended by file and field, as
    `torchquiz questions check` reports it (the editor shows the same messages)."""
    try:
        storable_text(text)  # from a browser: a lone surrogate stops the YAML reader unnamed
    except ValueError as exc:
        problems.append(Problem(rel, "", f"the text {exc}"))
        return None
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(Problem(rel, where, f"YAML syntax error: {getattr(exc, 'problem', exc)}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(rel, "", "file must hold a YAML mapping (key: value pairs)"))
        return None
    try:
        if hasattr(schema, "validate_python"):
            return schema.validate_python(data)
        return schema.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            field = _field_path(error["loc"])
            if error["type"].startswith("union_tag_"):
                field = "type"  # pydantic gives the missing or unknown tag no location
            problems.append(Problem(rel, field, error["msg"]))
        return None


def _field_path(loc: tuple[Any, ...]) -> str:
    """`('single_choice', 'options', 2, 'text')` -> `options[2].text` (drops the union tag)."""
    parts: list[str] = []
    for i, item in enumerate(loc):
        if i == 0 and item in QUESTION_TYPE_NAMES:
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _check_unique_ids(topics: dict[str, LoadedTopic], root: Path, problems: list[Problem]) -> None:
    seen: dict[str, Path] = {}
    for loaded in topics.values():
        for q in loaded.questions:
            if q.question.id in seen:
                first = seen[q.question.id].relative_to(root)
                problems.append(
                    Problem(
                        str(q.path.relative_to(root)),
                        "id",
                        f"'{q.question.id}' is also used by {first}",
                    )
                )
            seen[q.question.id] = q.path
