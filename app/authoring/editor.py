"""The question editor's form, to and from the one schema (app.bank.schema).

The form is flat, as HTML posts it: each input is named by its path in the question, list rows
by their index (`options.2.text`, `hints.0`, `check.expect`). Small structured values (a check's
expectation, an option's outcome, a shape) are one input holding YAML in flow style, as authors
write them in files. A form is read back into the question's data, dumped as YAML and parsed by
`app.bank.loader.parse_text`: its problems are those `torchquiz questions check` reports, with
field paths such as `options[2].text` that the page places next to their inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from app.bank.formats.yaml_zip import to_yaml
from app.bank.loader import Problem, parse_text
from app.bank.schema import AnyQuestion, QuestionAdapter

SOURCE_NAME = "question"  # what parse_text calls the text it reads

# List fields shown as repeated rows, per question type (besides the common ones).
COMMON_ROWS = ("hints", "solution_steps", "common_mistakes")
TYPE_ROWS: dict[str, tuple[str, ...]] = {
    "single_choice": ("options",),
    "multiple_select": ("options",),
    "numeric": ("wrong_answers", "variants.params"),
    "tensor_shape": ("wrong_answers", "variants.params"),
    "short_text": ("wrong_answers", "answer.accepted"),
    "code": ("samples", "tests", "buggy_solutions"),
}
TYPES = tuple(TYPE_ROWS)

# How an input's text becomes a value; a path's digits are written `*`. Text otherwise.
_COMMON_KINDS = {
    "tags": "csv",
    "check.expect": "yaml",
    "verify_seeds": "yaml",
    "predict_then_run": "bool",
}
_TYPE_KINDS: dict[str, dict[str, str]] = {
    "choice": {"options.*.correct": "bool", "options.*.outcome": "yaml", "shuffle": "bool"},
    "numeric": {
        "answer.value": "float",
        "answer.tolerance": "float",
        "variants.count": "int",
        "variants.tolerance": "float",
        "variants.params.*.choices": "yaml",
        "variants.params.*.min": "int",
        "variants.params.*.max": "int",
    },
    "tensor_shape": {
        "answer": "yaml",
        "variants.count": "int",
        "variants.tolerance": "float",
        "variants.params.*.choices": "yaml",
        "variants.params.*.min": "int",
        "variants.params.*.max": "int",
    },
    "short_text": {"answer.case_sensitive": "bool", "answer.index_of.shape": "yaml"},
    "code": {"samples.*.expect": "yaml", "tests.*.expect": "yaml"},
}
# Unticked means false; the schema's default for these is true, so absence cannot mean default.
_FALSE_WHEN_ABSENT = {"shuffle"}
_INDEX = re.compile(r"\.(\d+)(?=\.|$)")


def kinds_of(question_type: str) -> dict[str, str]:
    family = "choice" if question_type in ("single_choice", "multiple_select") else question_type
    return {**_COMMON_KINDS, **_TYPE_KINDS.get(family, {})}


def row_lists(question_type: str) -> tuple[str, ...]:
    return COMMON_ROWS + TYPE_ROWS.get(question_type, ())


def pattern_of(name: str) -> str:
    """`options.2.text` -> `options.*.text`."""
    return _INDEX.sub(".*", name)


@dataclass
class EditorForm:
    """The form as its inputs hold it: `values` by input name, `rows` per list."""

    type: str
    values: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def checked(self, name: str) -> bool:
        return self.values.get(name) == "on"

    def count(self, path: str) -> int:
        return max(self.rows.get(path, 0), 1)


# --- question -> form ---


def form_of(question: AnyQuestion) -> EditorForm:
    data = question.model_dump(mode="json")
    kinds = kinds_of(question.type)
    values: dict[str, str] = {"type": question.type}
    variants = data.get("variants")
    if variants is not None:  # params: a mapping, shown as rows with a name each
        data["variants"] = {
            **variants,
            "params": [{"name": k, **v} for k, v in variants["params"].items()],
        }
    _flatten(data, "", kinds, values)
    values.pop("type", None)
    return EditorForm(question.type, values, _rows(values, question.type))


def blank_form(question_type: str) -> EditorForm:
    """A new question's form: one empty row per list, shuffled options."""
    values = {"shuffle": "on"} if question_type in ("single_choice", "multiple_select") else {}
    if question_type in ("single_choice", "multiple_select"):
        return EditorForm(question_type, values, {"options": 2})
    return EditorForm(question_type, values, {})


def _flatten(value: Any, name: str, kinds: Mapping[str, str], out: dict[str, str]) -> None:
    kind = kinds.get(pattern_of(name), "text")
    if value is None:
        return
    if kind == "bool":
        if value:
            out[name] = "on"
    elif kind == "csv":
        out[name] = ", ".join(str(v) for v in value)
    elif kind == "yaml":
        out[name] = _flow(_without_nones(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{name}.{key}" if name else key, kinds, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{name}.{index}", kinds, out)
    else:
        out[name] = str(value)


def _flow(value: Any) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000)
    return dumped.removesuffix("\n...\n").strip()


def _without_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    return value


def _rows(values: Iterable[str], question_type: str) -> dict[str, int]:
    rows: dict[str, int] = {}
    for path in row_lists(question_type):
        prefix = path + "."
        indexes = [
            int(name[len(prefix) :].split(".")[0])
            for name in values
            if name.startswith(prefix) and name[len(prefix) :].split(".")[0].isdigit()
        ]
        rows[path] = max(indexes, default=-1) + 1
    return rows


# --- form -> question ---

CONTROLS = frozenset(
    {"csrf_token", "type", "base_version_id", "message", "action", "source", "source_base", "to"}
)


def read_form(question_type: str, posted: Iterable[tuple[str, str]]) -> EditorForm:
    """The editor's inputs out of a posted form (controls and preview settings left out)."""
    values = {
        name: value
        for name, value in posted
        if name not in CONTROLS and not name.startswith("preview_")
    }
    return EditorForm(question_type, values, _rows(values, question_type))


def data_of(form: EditorForm, problems: list[Problem]) -> dict[str, Any]:
    """The question's data as the form says it (a YAML input that does not parse is a
    problem, named by its field)."""
    kinds = kinds_of(form.type)
    tree: dict[str, Any] = {}
    for name, text in form.values.items():
        value = _value(name, text, kinds.get(pattern_of(name), "text"), problems)
        if value is not None:
            _put(tree, name.split("."), value)
    for name in _FALSE_WHEN_ABSENT & set(kinds):
        tree.setdefault(name, False)
    data: dict[str, Any] = {"type": form.type, **(_pruned(tree) or {})}
    params = data.get("variants", {}).get("params")
    if isinstance(params, list):
        data["variants"]["params"] = {p.pop("name", ""): p for p in params if isinstance(p, dict)}
    return data


def _value(name: str, text: str, kind: str, problems: list[Problem]) -> Any:
    text = text.replace("\r\n", "\n")
    if kind == "bool":
        return True if text == "on" else None
    if not text.strip():
        return None
    if kind == "csv":
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind == "yaml":
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problems.append(Problem(SOURCE_NAME, _loader_path(name), f"YAML syntax error: {exc}"))
            return None
    if kind in ("int", "float"):
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            return text.strip()  # the schema names the problem, as for a file
    return text


def _put(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return  # a value and a group under one name: the value wins
    node[parts[-1]] = value


def _pruned(node: Any) -> Any:
    """Groups with nothing filled in left out; digit-keyed groups made lists, in order."""
    if not isinstance(node, dict):
        return node
    kept = {k: v for k, v in ((k, _pruned(v)) for k, v in node.items()) if v is not None}
    if not kept:
        return None
    if all(k.isdigit() for k in kept):
        return [kept[k] for k in sorted(kept, key=int)]
    return kept


def parse_form(form: EditorForm) -> tuple[AnyQuestion | None, list[Problem], dict[str, Any]]:
    """The question the form holds, or its problems; and the data read from it."""
    problems: list[Problem] = []
    data = data_of(form, problems)
    question = parse_text(yaml_of_data(data), SOURCE_NAME, QuestionAdapter, problems)
    return (None if problems else question), problems, data


def parse_source(text: str) -> tuple[AnyQuestion | None, list[Problem]]:
    problems: list[Problem] = []
    return parse_text(text, SOURCE_NAME, QuestionAdapter, problems), problems


def yaml_of(question: AnyQuestion) -> str:
    return to_yaml(question).decode()


def yaml_of_data(data: Mapping[str, Any]) -> str:
    """A form's data as YAML even when it is not a valid question (what the source tab shows
    for a form that does not validate yet)."""
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=100)


# --- where a problem goes on the page ---


def _loader_path(name: str) -> str:
    """`options.2.text` -> `options[2].text`, as the loader names fields."""
    return _INDEX.sub(r"[\1]", name)


def input_name(loader_field: str) -> str:
    """`options[2].text` -> `options.2.text`."""
    return re.sub(r"\[(\d+)\]", r".\1", loader_field)


def place_problems(problems: Iterable[Problem], names: Iterable[str]) -> dict[str, list[str]]:
    """Each problem under the input (or group of inputs) nearest to its field; those that
    name no part of the form go under "" (the summary only)."""
    known = set(names)
    placed: dict[str, list[str]] = {}
    for problem in problems:
        placed.setdefault(anchor_of(problem.field, known), []).append(problem.message)
    return placed


def anchor_of(loader_field: str, known: set[str]) -> str:
    """The input or group nearest to a field the loader names ("" when none is)."""
    parts = input_name(loader_field).split(".") if loader_field else []
    while parts and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts)


_INPUTS = ("id", "difficulty", "tags", "prompt", "final_answer", "quick_check", "verify_seeds")
_GROUPS = ("check", "check.code", "check.expect", "check.answer_from", "predict_then_run")
_TYPE_INPUTS: dict[str, tuple[str, ...]] = {
    "single_choice": ("shuffle",),
    "multiple_select": ("shuffle",),
    "numeric": ("answer", "answer.value", "answer.tolerance", "unit", "variants"),
    "tensor_shape": ("answer", "variants"),
    "short_text": ("answer", "answer.case_sensitive", "answer.index_of"),
    "code": ("starter", "solution_code"),
}
_VARIANT_INPUTS = ("variants.count", "variants.tolerance")


def field_names(form: EditorForm) -> set[str]:
    """Every input's name and every group's (a list, a row) that the page shows, where
    problems can be placed."""
    names = {*_INPUTS, *_GROUPS, *_TYPE_INPUTS.get(form.type, ())}
    if form.type == "short_text":
        names |= {"answer.index_of.tensor", "answer.index_of.shape"}
    if "variants" in names:
        names |= set(_VARIANT_INPUTS)
    for path in row_lists(form.type):
        names.add(path)
        for i in range(form.count(path)):
            names.add(f"{path}.{i}")
    names |= {n for n in form.values if n.split(".")[0] in names}
    return names


def add_row(form: EditorForm, path: str) -> None:
    if path in row_lists(form.type):
        form.rows[path] = form.count(path) + 1


def remove_row(form: EditorForm, path: str, index: int) -> None:
    """Drop one row; the rows after it move up one."""
    prefix = f"{path}."
    moved: dict[str, str] = {}
    for name, value in form.values.items():
        rest = name[len(prefix) :] if name.startswith(prefix) else ""
        head = rest.split(".")[0]
        if not head.isdigit():
            moved[name] = value
        elif int(head) != index:
            number = int(head) - (int(head) > index)
            moved[prefix + str(number) + rest[len(head) :]] = value
    form.values = moved
    form.rows[path] = max(form.count(path) - 1, 0)
