"""Find or create the learner behind a request's identity; and how many new learners one
client address may create."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.errors import AppError
from app.core.limiting import Limits, Rule, retry_after
from app.learners.models import Learner
from app.runner.ratelimit import address_key


class TooManyLearnersError(AppError):
    status = 429
    code = "rate_limited"


class NewLearnerLimit:
    """Anonymous learners one client address may create (per IPv6 /64; app.core.limiting:
    shared by every app process when Redis is configured), spent only when a learner row is
    about to be stored. Minting a cookie or a token costs nothing, so a crawler, a health
    check or a reader leaves no trace here; and as every stored learner is counted, a cookie
    minted by one request and used by the next is counted too."""

    def __init__(self, *, burst: int, per_minute: int, limits: Limits | None = None) -> None:
        self._limits = limits or Limits()
        self._rule = Rule(burst, per_minute)

    def admit(self, address: str | None) -> None:
        """Spend one new learner of `address`, from a route's transaction (synchronous code);
        TooManyLearnersError when it has none left."""
        if address is not None:
            self._refuse_after(self._limits.hit_here(self._rule, *self._key(address)))

    async def admit_async(self, address: str | None) -> None:
        """`admit` for async code (on the event loop)."""
        if address is not None:
            self._refuse_after(await self._limits.hit(self._rule, *self._key(address)))

    @staticmethod
    def _key(address: str) -> tuple[str, str]:
        return ("new-learners", address_key(address))

    def _refuse_after(self, wait: float) -> None:
        if not wait:
            return
        error = TooManyLearnersError(
            f"too many new learners from your network address ({self._rule.describe()}); "
            f"try again in {retry_after(wait)} s, or go on as the learner you are (your cookie "
            "or token)"
        )
        error.headers = {"Retry-After": retry_after(wait)}
        raise error


def find_learner(db: Session, public_id: str) -> Learner | None:
    return db.scalar(select(Learner).where(Learner.public_id == public_id))


def get_or_create_learner(
    db: Session, public_id: str, *, admit: Callable[[], None] | None = None
) -> Learner:
    """`admit` is asked before a new learner is stored (NewLearnerLimit.admit), and may
    refuse."""
    learner = find_learner(db, public_id)
    if learner is not None:
        return learner
    if admit is not None:
        admit()
    try:
        # Two first requests from one browser can race; the unique key settles it.
        with db.begin_nested():
            learner = Learner(public_id=public_id)
            db.add(learner)
    except IntegrityError:
        learner = find_learner(db, public_id)
        assert learner is not None
    return learner
