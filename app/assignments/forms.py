"""The staff's assignment form, both ways: an assignment's rules as the form's values, and a
posted form as `AssignmentIn` (the API's model, so a rule is checked once) or its problems by
form field, with what was typed kept to show again.

Dates are `datetime-local` inputs, which carry no zone: the form labels them UTC and they are
read as UTC. Draws are rows of count, difficulty and tag; a row with no count is ignored, and
the form always offers a few empty rows to fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from app.assignments.schemas import AssignmentIn
from app.attempts.rules import AssignmentRules

DRAW_ROWS = 3  # empty draw rows offered at least, and one more than the rules use
MINUTE = "%Y-%m-%dT%H:%M"  # what a datetime-local input holds
FLAGS = ("shuffle_questions", "shuffle_options", "variant_per_learner", "prefer_unseen")
NUMBERS = ("top_up_to", "attempts_allowed", "time_limit_minutes", "late_penalty_percent")
DATES = ("opens_at", "closes_at", "late_until")


@dataclass
class DrawRow:
    count: str = ""
    difficulty: str = ""
    tag: str = ""

    @property
    def empty(self) -> bool:
        return not self.count.strip()


def _rows(draws: list[DrawRow]) -> list[DrawRow]:
    used = [d for d in draws if not d.empty]
    return used + [DrawRow() for _ in range(max(DRAW_ROWS - len(used), 1))]


@dataclass
class AssignmentForm:
    """The form's values, as text, as typed or as saved."""

    title: str = ""
    sources: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    draws: list[DrawRow] = field(default_factory=lambda: _rows([]))
    top_up_to: str = ""
    attempts_allowed: str = ""
    time_limit_minutes: str = ""
    opens_at: str = ""
    closes_at: str = ""
    late: str = "refuse"
    late_until: str = ""
    late_penalty_percent: str = "0"
    shuffle_questions: bool = False
    shuffle_options: bool = True
    variant_per_learner: bool = False
    prefer_unseen: bool = False
    feedback: str = "after_submission"

    @classmethod
    def of(cls, title: str, rules: AssignmentRules) -> AssignmentForm:
        """A saved assignment's values."""
        draws = [
            DrawRow(str(d.count), d.difficulty.value if d.difficulty else "", d.tag or "")
            for d in rules.draws
        ]
        form = cls(
            title=title,
            sources=list(rules.sources),
            questions=list(rules.questions),
            draws=_rows(draws),
            late=rules.late,
            feedback=rules.feedback,
        )
        for name in NUMBERS + DATES:
            setattr(form, name, _text(getattr(rules, name)))
        for name in FLAGS:
            setattr(form, name, getattr(rules, name))
        return form

    @classmethod
    def posted(cls, items: list[tuple[str, str]]) -> AssignmentForm:
        """From the posted fields (repeated names kept: checkboxes). An unticked checkbox is
        not sent, so a flag is set only when its field is there."""
        one = {k: v for k, v in items}
        many = {k: [v for name, v in items if name == k] for k in ("sources", "questions")}
        draws = [
            DrawRow(
                one.get(f"draw-{i}-count", ""),
                one.get(f"draw-{i}-difficulty", ""),
                one.get(f"draw-{i}-tag", ""),
            )
            for i in range(_draw_rows_posted(one))
        ]
        form = cls(
            title=one.get("title", ""),
            sources=many["sources"],
            questions=many["questions"],
            draws=_rows(draws),
            late=one.get("late", "refuse"),
            feedback=one.get("feedback", "after_submission"),
        )
        for name in NUMBERS + DATES:
            setattr(form, name, one.get(name, "").strip())
        for name in FLAGS:
            setattr(form, name, one.get(name) == "on")
        return form

    def parse(self) -> tuple[AssignmentIn | None, dict[str, str]]:
        """The assignment, or the problems by form field: a draw row's as `draw-{row}`."""
        used = [(row, d) for row, d in enumerate(self.draws) if not d.empty]
        problems: dict[str, str] = {}
        rules: dict[str, Any] = {
            "sources": self.sources,
            "questions": self.questions,
            "draws": [
                {"count": d.count, "difficulty": d.difficulty or None, "tag": d.tag or None}
                for _, d in used
            ],
            "late": self.late,
            "feedback": self.feedback,
            **{name: getattr(self, name) for name in FLAGS},
            **{name: getattr(self, name) or None for name in NUMBERS},
        }
        if rules["late_penalty_percent"] is None:
            rules["late_penalty_percent"] = 0
        for name in DATES:
            rules[name] = _moment(getattr(self, name), name, problems)
        if problems:
            return None, problems
        try:
            return AssignmentIn.model_validate({"title": self.title, "rules": rules}), {}
        except ValidationError as exc:
            return None, form_problems(exc, [row for row, _ in used])


def _draw_rows_posted(one: dict[str, str]) -> int:
    rows = 0
    while f"draw-{rows}-count" in one and rows < 50:
        rows += 1
    return rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(MINUTE)
    return str(value)


def _moment(text: str, name: str, problems: dict[str, str]) -> datetime | None:
    """A datetime-local value, read as UTC."""
    if not text:
        return None
    try:
        return datetime.strptime(text[:16], MINUTE).replace(tzinfo=UTC)
    except ValueError:
        problems[name] = "give a date and time, as YYYY-MM-DDTHH:MM (UTC)"
        return None


def form_problems(exc: ValidationError, draw_rows: list[int]) -> dict[str, str]:
    """The first problem of each form field. `draw_rows`: each draw's row in the form."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        loc = [part for part in error["loc"] if part != "rules"]
        if not loc:
            name = "form"
        elif loc[0] == "draws" and len(loc) > 1 and isinstance(loc[1], int):
            name = f"draw-{draw_rows[loc[1]]}" if loc[1] < len(draw_rows) else "draws"
        else:
            name = str(loc[0])
        message = error["msg"].removeprefix("Value error, ")
        if name.startswith("draw-") and len(loc) > 2:
            message = f"{loc[2]}: {message}"
        problems.setdefault(name, message)
    return problems
