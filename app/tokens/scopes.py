"""What an API token may do: its scopes, each with the sentence the token pages and the OpenAPI
document show. A course route's permission asks for one scope (app.courses.deps.SCOPE_OF); the
learner routes ask for `practice`."""

from __future__ import annotations

from typing import Literal, get_args

Scope = Literal[
    "content:read",
    "content:write",
    "results:read",
    "results:write",
    "learners:write",
    "courses:manage",
    "practice",
]
SCOPES: dict[Scope, str] = {
    "content:read": "Read a course: its settings, staff, question bank and assignments.",
    "content:write": "Author a course's questions and assignments, import a bank.",
    "results:read": "Read learners, attempts, the gradebook and statistics.",
    "results:write": "Change results: grade overrides, regrades, remove learners.",
    "learners:write": "Manage a course's learners: enrol them, set their external ids.",
    "courses:manage": "Rename and archive a course, renew its join code, invite staff.",
    "practice": "Act as the token's own learner: practise, take tests, read own progress.",
}
ALL_SCOPES: tuple[Scope, ...] = get_args(Scope)
PRACTICE: Scope = "practice"


def unknown_scopes(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s not in SCOPES]


def describe_scopes() -> str:
    """For the OpenAPI document's security scheme: one line per scope."""
    return "\n".join(f"- `{name}`: {sentence}" for name, sentence in SCOPES.items())
