"""Import previews waiting for their confirmation (app.authoring.transfer), in the database so
that the confirmation may reach any of the site's processes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow

IMPORT_ID_LENGTH = 32
FORMAT_LENGTH = 20


class CourseImport(Base):
    """One previewed upload: its bytes (read again at the confirmation: the readers are
    deterministic), what the course's bank held when it was previewed, and who may confirm
    it until when. Purged once expired (app.operations.purge)."""

    __tablename__ = "course_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[str] = mapped_column(String(IMPORT_ID_LENGTH), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(FORMAT_LENGTH))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    bank_state: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
