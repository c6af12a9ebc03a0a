"""What verify found: each claim a question makes, beside what really happened."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """One claim: `field` is where the question makes it (`options[2].outcome`, `check`,
    `tests['t1']`, `buggy_solutions[0]`), `seed` the variant it was checked on (None for a
    question without variants)."""

    field: str
    claims: str  # what the question claims, in words
    observed: str  # what torch (or the grader, or the renderer) really did
    passed: bool
    seed: int | None = None
    values: dict[str, int] = dataclasses.field(default_factory=dict)  # the variant's parameters
    detail: str = ""  # the mismatch in one line, when a plainer one than claims/observed exists

    def where(self) -> str:
        if self.seed is None:
            return self.field
        drawn = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"{self.field} (seed {self.seed}{': ' + drawn if drawn else ''})"

    def message(self) -> str:
        return self.detail or f"claims {self.claims}; really {self.observed}"

    def __str__(self) -> str:
        return f"{self.where()}: {self.message()}"


@dataclass(frozen=True)
class Verification:
    """Every claim of one question, checked; it passes when every claim holds."""

    question: str  # the question's id
    claims: list[Claim]

    @property
    def passed(self) -> bool:
        return all(claim.passed for claim in self.claims)

    @property
    def failures(self) -> list[Claim]:
        return [claim for claim in self.claims if not claim.passed]
