"""Find or create the learner behind a request's identity; and how many new learners one
client address may create."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.errors import AppError
from app.learners.models import Learner
from app.runner.ratelimit import RateLimiter, address_key


class TooManyLearnersError(AppError):
    status = 429
    code = "rate_limited"


class NewLearnerLimit:
    """Anonymous learners one client address may create: a token bucket per address (per
    IPv6 /64), spent only when a learner row is about to be stored. Minting a cookie or a
    token costs nothing, so a crawler, a health check or a reader leaves no trace here; and as
    every stored learner is counted, a cookie minted by one request and used by the next is
    counted too."""

    def __init__(self, *, burst: int, per_minute: int) -> None:
        self._buckets = RateLimiter(burst=burst, per_minute=per_minute)

    def admit(self, address: str | None) -> None:
        """Spend one new learner of `address`; TooManyLearnersError when it has none left."""
        if address is None or not (wait := self._buckets.take(address_key(address))):
            return
        error = TooManyLearnersError(
            f"too many new learners from your network address ({self._buckets.describe()}); "
            f"try again in {wait:g} s, or go on as the learner you are (your cookie or token)"
        )
        error.headers = {"Retry-After": str(max(1, round(wait)))}
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
