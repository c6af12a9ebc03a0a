"""The shipped bank as the format tests use it, and what each format carries of a question."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from app.bank.formats.mapping import fallback_reason, skip_reason
from app.bank.loader import Bank, load_bank
from app.bank.schema import AnyQuestion, CodeQuestion

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "tests" / "fixtures" / "formats"


@cache
def shipped_bank() -> Bank:
    return load_bank(PROJECT / "questions")


def shipped_questions() -> list[AnyQuestion]:
    return [q.question for t in shipped_bank().topics.values() for q in t.questions]


def topic_of() -> dict[str, str]:
    bank = shipped_bank()
    return {q.question.id: t.slug for t in bank.topics.values() for q in t.questions}


def moodle_gradable() -> list[AnyQuestion]:
    """The shipped questions Moodle XML and GIFT carry as questions Moodle grades."""
    return [
        q for q in shipped_questions() if skip_reason(q) is None and not isinstance(q, CodeQuestion)
    ]


# What each format carries: the fields compared after a round trip.
_COMMON = ["id", "type", "difficulty", "tags", "prompt", "solution_steps", "final_answer"]
_COMMON += ["quick_check", "common_mistakes"]


def carried(question: AnyQuestion, fmt: str) -> dict[str, Any]:
    data = question.model_dump(mode="json")
    keep = [*_COMMON, "hints", "shuffle", "unit"] if fmt == "moodle-xml" else _COMMON
    found = {key: data[key] for key in keep if key in data}
    if "options" in data:
        found["options"] = [
            {key: option[key] for key in ("text", "correct", "feedback")}
            for option in data["options"]
        ]
    answer = data.get("answer")
    if isinstance(answer, dict) and "accepted" in answer:
        answer = {"accepted": answer["accepted"]}  # index_of: Moodle matches text
        if fmt == "moodle-xml":
            answer["case_sensitive"] = question.answer.case_sensitive  # type: ignore[union-attr]
    if answer is not None:
        found["answer"] = answer
    return found


def has_fallback(question: AnyQuestion) -> bool:
    return fallback_reason(question) is not None
