"""The bank formats by the names the command line and the API use, and exporting a whole bank
(or one topic of it) in any of them."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any

from app.bank.formats import Exported, Parsed
from app.bank.loader import Bank

# Imported when first used: the QTI modules are written beside these, and a format whose
# module is missing is reported as unavailable instead of breaking the others.
MODULES = {
    "yaml": "app.bank.formats.yaml_zip",
    "moodle-xml": "app.bank.formats.moodle_xml",
    "gift": "app.bank.formats.gift",
    "qti21": "app.bank.formats.qti21",
    "qti30": "app.bank.formats.qti30",
}
NAMES = tuple(MODULES)
DEFAULT_BANK_NAME = "torchquiz-bank"


class FormatError(ValueError):
    """A format that does not exist, is not available, or cannot do what was asked."""


def module(name: str) -> ModuleType:
    if name not in MODULES:
        raise FormatError(f"unknown format {name!r}; the formats are {', '.join(NAMES)}")
    try:
        return importlib.import_module(MODULES[name])
    except ModuleNotFoundError as exc:
        if exc.name != MODULES[name]:
            raise
        raise FormatError(f"the format {name!r} is not available in this version") from None


def parse(name: str, data: bytes) -> Parsed:
    """Read an upload in format `name`; UnsafeFileError (safety) when it cannot be read."""
    found = module(name)
    if not hasattr(found, "parse"):
        raise FormatError(f"the format {name!r} can be exported, not imported")
    result: Parsed = found.parse(data)
    return result


def export_bank(name: str, bank: Bank, topic: str | None = None) -> Exported:
    """The bank's questions (one topic's, when given) in format `name`, each in its topic."""
    if topic is not None and topic not in bank.topics:
        known = ", ".join(sorted(bank.topics)) or "none"
        raise FormatError(f"the bank has no topic {topic!r}; its topics are: {known}")
    chosen = [bank.topics[topic]] if topic else list(bank.topics.values())
    questions = [q.question for t in chosen for q in t.questions]
    extras: dict[str, Any] = {
        "topic_of": {q.question.id: t.slug for t in chosen for q in t.questions},
        "topics": {t.slug: t.topic for t in chosen},
    }
    export = module(name).export
    accepted = inspect.signature(export).parameters
    given = {key: value for key, value in extras.items() if key in accepted}
    result: Exported = export(questions, bank_name=topic or DEFAULT_BANK_NAME, **given)
    return result
