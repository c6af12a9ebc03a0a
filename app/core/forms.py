"""HTML forms over pydantic models: a validation error as one message per form field."""

from __future__ import annotations

from pydantic import ValidationError


def field_problems(exc: ValidationError) -> dict[str, str]:
    """The first problem of each field, by the field's own name (nested models included)."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        names = [part for part in error["loc"] if isinstance(part, str)]
        field = names[-1] if names else "form"
        problems.setdefault(field, error["msg"].removeprefix("Value error, "))
    return problems
