"""Question versions are content-addressed: one row per distinct content of a question."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.bank.schema import AnyQuestion
from app.questions.models import QuestionRow, QuestionVersion


def version_for(
    db: Session,
    row: QuestionRow,
    question: AnyQuestion,
    digest: str,
    *,
    source_path: str,
    author_id: int | None = None,
    message: str | None = None,
) -> tuple[QuestionVersion, bool]:
    """The question's version with this content hash, and whether it is new: a content seen
    before (an edit undone, a revert) is that version again, never a copy."""
    version = db.scalar(
        select(QuestionVersion).where(
            QuestionVersion.question_id == row.id, QuestionVersion.content_hash == digest
        )
    )
    if version is not None:
        return version, False
    number = db.scalar(
        select(func.coalesce(func.max(QuestionVersion.number), 0)).where(
            QuestionVersion.question_id == row.id
        )
    )
    version = QuestionVersion(
        question_id=row.id,
        number=(number or 0) + 1,
        content_hash=digest,
        type=question.type,
        difficulty=question.difficulty.value,
        data=question.model_dump(mode="json"),
        source_path=source_path,
        author_id=author_id,
        message=message,
    )
    db.add(version)
    db.flush()
    return version, True
