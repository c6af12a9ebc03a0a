"""What the account forms and the API accept, declared once (app.core.bounds types)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field

from app.core.bounds import EMAIL_LENGTH, PASSWORD_MAX, Email, Name, Password


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class SignUpForm(BaseModel):
    email: Email
    password: Password = Field(description="At least 10 characters.")
    display_name: Annotated[Name | None, BeforeValidator(_blank_is_none)] = None


class SignInForm(BaseModel):
    # Not the sign-up rules: an account made before a rule changed must still sign in.
    email: str = Field(min_length=1, max_length=EMAIL_LENGTH)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class ResetRequest(BaseModel):
    email: Email


class PasswordForm(BaseModel):
    password: Password
