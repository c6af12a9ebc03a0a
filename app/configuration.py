"""The table of every setting (docs/configuration.md), written from the settings classes
themselves so that it cannot drift from them: each variable's name (the class's prefix and the
field), its default, and its meaning, from the field's `description` or else from the comment
above it in the class (a comment above several adjacent fields covers them all; a field with
neither has its class's docstring). `torchquiz settings --write` writes the file;
tests/test_configuration_doc.py fails when it is out of date."""

from __future__ import annotations

import ast
import inspect
import io
import textwrap
import tokenize
import typing
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from app.core.config import PROJECT_DIR, Settings
from app.runner.queue_client import QueueLimits
from app.runner.settings import RunnerSettings

DOC = PROJECT_DIR / "docs" / "configuration.md"

# (heading, class): every class whose fields are read from TORCHQUIZ_ variables.
SECTIONS: list[tuple[str, type[BaseSettings]]] = [
    ("The app: `torchquiz serve`, `migrate` and the other commands", Settings),
    ("The code runner: `torchquiz runner` (and the runner `serve` starts)", RunnerSettings),
    ("The job queue's admission, across app replicas", QueueLimits),
]

HEADER = """# Configuration

Every setting, read from environment variables (or a `.env` file in the working directory).
List settings take commas or spaces (`a.example, b.example`) or a JSON list.

Written by `torchquiz settings --write` from the settings classes, rather than by hand: change
a field's comment (or description) there and run it again. The classes:
{sources}.
"""


def settings_table() -> str:
    sources = ", ".join(f"`{_source_path(cls)}`" for _, cls in SECTIONS)
    parts = [HEADER.format(sources=sources)]
    for heading, cls in SECTIONS:
        parts.append(f"\n## {heading}\n\n`{cls.__module__}.{cls.__name__}`\n\n")
        parts.append("| variable | default | meaning |\n|---|---|---|\n")
        for names, meaning in _groups(cls):
            prefix = cls.model_config.get("env_prefix", "")
            variables = "<br>".join(f"`{prefix}{name.upper()}`" for name in names)
            defaults = "<br>".join(_default(cls.model_fields[name]) for name in names)
            parts.append(f"| {variables} | {defaults} | {_cell(meaning)} |\n")
    return "".join(parts)


def _groups(cls: type[BaseSettings]) -> list[tuple[list[str], str]]:
    """(field names, meaning) in the class's order: the fields under one comment together."""
    lines = textwrap.dedent(inspect.getsource(cls)).splitlines()
    body = ast.parse("\n".join(lines)).body[0]
    assert isinstance(body, ast.ClassDef)
    groups: list[tuple[list[str], str]] = []
    previous_end = -1
    for node in body.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            previous_end = -1
            continue
        name = node.target.id
        if name not in cls.model_fields:
            continue
        field = cls.model_fields[name]
        comment = _comment_above(lines, node.lineno - 1)
        trailing = _trailing_comment(lines[node.end_lineno - 1] if node.end_lineno else "")
        if field.description:
            groups.append(([name], " ".join(field.description.split())))
        elif comment or not groups or previous_end != node.lineno - 1:
            groups.append(([name], comment or _class_meaning(cls)))
        else:
            groups[-1][0].append(name)
        if trailing:
            names, meaning = groups[-1]
            groups[-1] = (names, f"{meaning} (`{name}`: {trailing})")
        previous_end = node.end_lineno or node.lineno
    return groups


def _comment_above(lines: list[str], index: int) -> str:
    """The `#` lines just above line `index` (0-based), joined."""
    found: list[str] = []
    at = index - 1
    while at >= 0 and lines[at].strip().startswith("#"):
        found.insert(0, lines[at].strip().lstrip("#").strip())
        at -= 1
    return " ".join(found)


def _trailing_comment(line: str) -> str:
    """A comment after the code on a line (a `#` outside any string)."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline)
        for token in tokens:
            if token.type == tokenize.COMMENT:
                return token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return ""


def _class_meaning(cls: type[BaseSettings]) -> str:
    """The class's own docstring's first paragraph (not one inherited from BaseSettings)."""
    own = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    return " ".join(own.split("\n\n")[0].split())


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "computed when read"
    value = field.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, Path):
        try:
            return f"`./{value.relative_to(PROJECT_DIR)}`"
        except ValueError:
            return f"`{value}`"
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "" or value == []:
        return "empty"
    if isinstance(value, list):
        return ", ".join(f"`{item}`" for item in value)
    shown = f"`{value}`"
    if typing.get_origin(field.annotation) is typing.Literal:
        others = [str(v) for v in typing.get_args(field.annotation) if v != value]
        shown += " (or " + ", ".join(f"`{o}`" for o in others) + ")"
    return shown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _source_path(cls: type) -> str:
    return str(Path(inspect.getfile(cls)).resolve().relative_to(PROJECT_DIR))


def write() -> Path:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(settings_table())
    return DOC
