"""What the study modes share: their content, read from the bank, and the checks that a
topic offers a mode and that a number given is in range. Each mode's logic is in its own
module (flashcards, bugs, worked); nothing is stored, and answers are graded by the bank's
own graders (app.bank.grading)."""

from __future__ import annotations

from dataclasses import dataclass

from app.bank.loader import Bank
from app.bank.schema import BugHunt, LearningMode, WorkedSeries
from app.core.errors import AppError, NotFoundError
from app.questions.catalog import Catalog


class OutOfRangeError(AppError):
    """A card, line, problem or step number past what the content has."""

    status = 422
    code = "out_of_range"


@dataclass(frozen=True)
class StudyContent:
    """Each topic's bugs and worked series (the flashcards are in its topic, in the catalog)."""

    bugs: dict[str, dict[str, BugHunt]]
    worked: dict[str, dict[str, WorkedSeries]]

    @classmethod
    def of(cls, bank: Bank) -> StudyContent:
        topics = bank.topics.values()
        return cls(
            bugs={t.slug: {b.id: b for b in t.bugs} for t in topics},
            worked={t.slug: {s.id: s for s in t.worked} for t in topics},
        )


def offered(catalog: Catalog, slug: str, mode: LearningMode) -> None:
    """404 unless the topic exists and offers `mode` (its topic.yaml lists it)."""
    if mode not in catalog.topic(slug).topic.modes:
        raise NotFoundError(f"topic '{slug}' has no {mode.value} mode", field="topic")


def in_range(what: str, number: int, last: int) -> None:
    if not 1 <= number <= last:
        raise OutOfRangeError(
            f"{what} {number} is out of range: there are {what}s 1 to {last}", field=what
        )
