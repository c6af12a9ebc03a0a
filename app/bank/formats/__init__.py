"""Question banks in and out of the systems instructors already use.

Each format module has `export(questions, *, bank_name) -> Exported` and, where the format can
be imported, `parse(data) -> Parsed`. Both sides go through the one schema (app.bank.schema):
a parsed question is a validated `AnyQuestion`, never a second question model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.bank.loader import Problem
from app.bank.schema import AnyQuestion, Topic


@dataclass(frozen=True)
class Left:
    """A question an export could not carry as it is: skipped, or carried in a fallback."""

    question: str
    reason: str


@dataclass
class Exported:
    data: bytes
    filename: str  # a suggested file name, with its extension
    media_type: str
    skipped: list[Left] = field(default_factory=list)
    fallbacks: list[Left] = field(default_factory=list)


@dataclass
class Parsed:
    """An import's questions, each validated by the schema, and every problem found, named by
    the item (file, or question name and number) and field it concerns.

    `warnings` name what was imported with a change (a placeholder for a field the format
    lacks, partial credit our schema cannot express); they do not stop an import. `topic_of`
    maps a question id to the topic folder the file put it in (a zip folder, a Moodle
    category), and `topics` holds the topic files a zip carried, by folder."""

    questions: list[AnyQuestion] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    topic_of: dict[str, str] = field(default_factory=dict)
    topics: dict[str, Topic] = field(default_factory=dict)
