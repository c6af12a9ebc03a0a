"""What the token API takes and answers; the token page parses its form with TokenIn too."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.bounds import Name, Slug
from app.core.db import utcnow
from app.tokens.models import ApiToken
from app.tokens.scopes import SCOPES
from app.tokens.service import MOST_ORIGINS, RATE_DEFAULT, RATE_MAX, RATE_MIN, TokenRequest

Days = Annotated[int, Ge(1), Le(3650)]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    scopes: list[str] = Field(
        min_length=1, max_length=len(SCOPES), description=f"Of: {', '.join(SCOPES)}."
    )
    expires_in_days: Days | None = Field(None, description="None: the token never expires.")
    course: Slug | None = Field(
        None, description="A service token for this course (you must own it); none: personal."
    )
    allowed_origins: list[Annotated[str, Field(max_length=200)]] = Field(
        default=[],
        max_length=MOST_ORIGINS,
        description='Browser origins whose pages may call the API with this token (CORS); "*" '
        "for any.",
    )
    rate_per_minute: Annotated[int, Ge(RATE_MIN), Le(RATE_MAX)] = RATE_DEFAULT

    @field_validator("scopes")
    @classmethod
    def _known(cls, scopes: list[str]) -> list[str]:
        if unknown := [s for s in scopes if s not in SCOPES]:
            raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
        return scopes

    def request(self) -> TokenRequest:
        expires = utcnow() + timedelta(days=self.expires_in_days) if self.expires_in_days else None
        return TokenRequest(
            name=self.name,
            scopes=self.scopes,
            course_slug=self.course,
            expires_at=expires,
            allowed_origins=tuple(self.allowed_origins),
            rate_per_minute=self.rate_per_minute,
        )


class TokenOut(BaseModel):
    public_id: str
    name: str
    kind: str = Field(description="personal (acts as you) or service (acts within one course).")
    prefix: str = Field(description="The token's first characters, to tell tokens apart.")
    course: str | None = Field(description="A service token's course (its slug).")
    scopes: list[str]
    allowed_origins: list[str]
    rate_per_minute: int
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken, course: str | None) -> TokenOut:
        return cls(
            public_id=token.public_id,
            name=token.name,
            kind=token.kind,
            prefix=token.prefix,
            course=course,
            scopes=token.scopes,
            allowed_origins=token.allowed_origins,
            rate_per_minute=token.rate_per_minute,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class TokenCreated(TokenOut):
    token: str = Field(
        description="The secret: send it as `Authorization: Bearer <token>`. Shown in this "
        "answer only; only its hash is kept."
    )
