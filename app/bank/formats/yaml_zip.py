"""Our own format: a bank as a zip of YAML files laid out like `questions/`.

`<topic>/topic.yaml` (when a whole topic is exported) and `<topic>/<id>.yaml` per question,
each written from the validated model (defaults left out, as content hashes count them), so
export then import gives the same content hash for every question. Anything else in the zip
(study folders, other files) is left out with a warning.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from app.bank.formats import Exported, Parsed
from app.bank.formats.mapping import PLACEHOLDER_MARK, validation_problems
from app.bank.formats.safety import read_zip
from app.bank.loader import TOPIC_FILE, Problem, content_hash
from app.bank.schema import AnyQuestion, LearningMode, QuestionAdapter, Topic

IMPORT_TOPIC = "imported"  # the folder of imported questions that name no topic

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, as authors write them."""


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text and text == text.strip(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _string)


def to_yaml(model: BaseModel) -> bytes:
    data = model.model_dump(mode="json", exclude_defaults=True)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True).encode()


def export(
    questions: Sequence[AnyQuestion],
    *,
    bank_name: str,
    topic_of: Mapping[str, str] | None = None,
    topics: Mapping[str, Topic] | None = None,
) -> Exported:
    """The zip; each question in the folder `topic_of` names (else `bank_name`), and a
    `topic.yaml` for each folder in `topics`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for slug, topic in (topics or {}).items():
            archive.writestr(f"{slug}/{TOPIC_FILE}", to_yaml(topic))
        for question in questions:
            folder = (topic_of or {}).get(question.id, bank_name)
            archive.writestr(f"{folder}/{question.id}.yaml", to_yaml(question))
    return Exported(buffer.getvalue(), f"{bank_name}.zip", "application/zip")


def parse(data: bytes) -> Parsed:
    """The questions (and topic files) of a zip; UnsafeFileError when it is no safe zip."""
    return parse_entries(read_zip(data))


def read_folder(root: Path) -> Parsed:
    """A bank folder read as a zip of it would be (what an import is compared with)."""
    files = root.glob("*/*.y*ml") if root.is_dir() else []
    return parse_entries({path.relative_to(root).as_posix(): path.read_bytes() for path in files})


def parse_entries(entries: Mapping[str, bytes]) -> Parsed:
    """The questions and topics of files by relative path, each named by its path."""
    parsed = Parsed()
    seen: dict[str, str] = {}
    for name, content in sorted(entries.items()):
        path = PurePosixPath(name)
        if len(path.parts) != 2 or path.suffix not in (".yaml", ".yml"):
            message = "not a question file (<topic>/<id>.yaml): left out"
            parsed.warnings.append(Problem(name, "", message))
            continue
        if path.suffix == ".yml":
            parsed.problems.append(Problem(name, "", "name question files *.yaml"))
            continue
        loaded = _load(name, content, parsed)
        if loaded is None:
            continue
        topic = path.parts[0]
        if path.name == TOPIC_FILE:
            _add_topic(name, topic, loaded, parsed)
        else:
            _add_question(name, path.stem, topic, loaded, parsed, seen)
    return parsed


def _load(name: str, content: bytes, parsed: Parsed) -> dict[str, Any] | None:
    try:
        text = content.decode("utf-8")
        # An alias can make a small file expand without bound (YAML's billion laughs).
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=_LOADER)):
            parsed.problems.append(Problem(name, "", "YAML aliases (*name) are not accepted"))
            return None
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except UnicodeDecodeError:
        parsed.problems.append(Problem(name, "", "file is not UTF-8 text"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        message = f"YAML syntax error: {getattr(exc, 'problem', None) or exc}"
        parsed.problems.append(Problem(name, where, message))
        return None
    if not isinstance(data, dict):
        parsed.problems.append(
            Problem(name, "", "file must hold a YAML mapping (key: value pairs)")
        )
        return None
    return data


def _add_topic(name: str, slug: str, data: dict[str, Any], parsed: Parsed) -> None:
    try:
        parsed.topics[slug] = Topic.model_validate(data)
    except ValidationError as exc:
        parsed.problems += validation_problems(name, exc)


def _add_question(
    name: str, stem: str, topic: str, data: dict[str, Any], parsed: Parsed, seen: dict[str, str]
) -> None:
    try:
        question = QuestionAdapter.validate_python(data)
    except ValidationError as exc:
        parsed.problems += validation_problems(name, exc)
        return
    if question.id != stem:
        message = f"'{question.id}' must equal the file name '{stem}'"
        parsed.problems.append(Problem(name, "id", message))
    elif question.id in seen:
        parsed.problems.append(Problem(name, "id", f"'{question.id}' is also used by {seen[stem]}"))
    else:
        seen[question.id] = name
        parsed.questions.append(question)
        parsed.topic_of[question.id] = topic


# --- a bank folder as the target of an import ---


def existing_questions(root: Path) -> dict[str, tuple[str, Path]]:
    """id -> (content hash, file) of each valid question file in a bank folder."""
    parsed = read_folder(root)
    return {
        q.id: (content_hash(q), root / parsed.topic_of[q.id] / f"{q.id}.yaml")
        for q in parsed.questions
    }


def write_questions(
    parsed: Parsed, root: Path, existing: Mapping[str, tuple[str, Path]], ids: Sequence[str]
) -> list[Path]:
    """Write the questions `ids` of an import as YAML files: a changed question over its file,
    a new one in the topic the import gave it (else `imported`), with the topic's file when
    the import carried it or a marked placeholder when the folder has none."""
    wanted = set(ids)
    written: list[Path] = []
    for question in parsed.questions:
        if question.id not in wanted:
            continue
        wanted.discard(question.id)  # the first of a repeated id, as the preview counts it
        topic = parsed.topic_of.get(question.id, IMPORT_TOPIC)
        path = existing[question.id][1] if question.id in existing else None
        path = path or root / topic / f"{question.id}.yaml"
        written += _topic_file(path.parent, parsed.topics.get(path.parent.name))
        path.write_bytes(to_yaml(question))
        written.append(path)
    return written


def _topic_file(folder: Path, topic: Topic | None) -> list[Path]:
    path = folder / TOPIC_FILE
    if path.exists():
        return []
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_yaml(topic or placeholder_topic(folder.name)))
    return [path]


def placeholder_topic(slug: str) -> Topic:
    todo = f"{PLACEHOLDER_MARK} describe the topic '{slug}' before publishing."
    return Topic(
        title=slug.replace("-", " ").capitalize(),
        category="Imported",
        estimated_minutes=30,
        summary=todo,
        modes=[LearningMode.practice],
        notes=todo,
    )
