"""What an import would do, before it does anything: pure, no writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.bank.formats import Parsed
from app.bank.loader import Problem, content_hash


@dataclass(frozen=True)
class Conflict:
    """Two questions of the import claim one id (only the first would be imported)."""

    question: str
    reason: str


@dataclass
class ImportPreview:
    create: list[str] = field(default_factory=list)  # ids new to the bank
    change: list[str] = field(default_factory=list)  # ids whose content differs
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.conflicts


def preview(parsed: Parsed, existing: Mapping[str, str]) -> ImportPreview:
    """Sort the parsed questions against `existing` (id -> content hash of the bank's
    version): created, changed (another hash), unchanged, and ids the import repeats."""
    result = ImportPreview(problems=list(parsed.problems), warnings=list(parsed.warnings))
    first: dict[str, str] = {}
    for question in parsed.questions:
        digest = content_hash(question)
        if question.id in first:
            same = "the same content" if first[question.id] == digest else "different content"
            reason = f"the import holds '{question.id}' more than once, with {same}"
            result.conflicts.append(Conflict(question.id, reason))
            continue
        first[question.id] = digest
        if question.id not in existing:
            result.create.append(question.id)
        elif existing[question.id] != digest:
            result.change.append(question.id)
        else:
            result.unchanged.append(question.id)
    return result


def format_preview(result: ImportPreview) -> str:
    """The preview as the command line prints it."""
    lines = [
        f"{len(result.create)} to create, {len(result.change)} to change, "
        f"{len(result.unchanged)} unchanged, {len(result.conflicts)} conflict(s), "
        f"{len(result.problems)} problem(s), {len(result.warnings)} warning(s)."
    ]
    for title, ids in (("Create", result.create), ("Change", result.change)):
        lines += [f"  {title}: {qid}" for qid in ids]
    lines += [f"  Conflict: {c.question}: {c.reason}" for c in result.conflicts]
    lines += [f"  Problem: {p}" for p in result.problems]
    lines += [f"  Warning: {p}" for p in result.warnings]
    return "\n".join(lines)
