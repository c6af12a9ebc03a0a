"""The runner's rate-limit refusals, remembered by the app until they lapse.

A learner or an address past its rate gets the same 429 from the runner until its bucket has a
run again: the runner says when (`Retry-After-Ms`), and which bucket (the error's field,
"learner" or "address"). Until then the app answers that 429 itself, without the hop to the
runner and back, so a flood costs the app's HTTP stack alone (bench/fairness.py). A refusal is
remembered per limit (runs, playground) and per bucket, never wider: one learner's refusal
never reaches a classmate on the same address, and an address's reaches only that address.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.runner.ratelimit import address_key

MAX_REMEMBERED = 100_000  # a bound on memory: forgetting early is only lenient


@dataclass(frozen=True)
class Refusal:
    until: float  # time.monotonic()
    bucket: str  # "learner" or "address"
    message: str  # the runner's words, which end with the wait it computed then

    def seconds(self) -> float:
        return max(0.0, self.until - time.monotonic())

    def said_now(self) -> str:
        """The runner's words with the wait as it stands now."""
        why = self.message.rsplit("; try again in ", 1)[0]
        return f"{why}; try again in {max(0.1, round(self.seconds(), 1)):g} s"


class RecentRefusals:
    def __init__(self) -> None:
        self._refusals: dict[tuple[str, str, str], Refusal] = {}

    def check(self, limit: str, *, learner: str | None, address: str | None) -> Refusal | None:
        """A refusal still in force for this learner or address under `limit`, if any."""
        now = time.monotonic()
        for key in self._keys(limit, learner, address):
            refusal = self._refusals.get(key)
            if refusal is None:
                continue
            if refusal.until > now:
                return refusal
            del self._refusals[key]
        return None

    def remember(
        self,
        limit: str,
        bucket: str,
        *,
        learner: str | None,
        address: str | None,
        seconds: float,
        message: str,
    ) -> None:
        """`bucket`: the runner's field, "learner" or "address"; anything else is not kept."""
        who = {"learner": learner, "address": address_key(address) if address else None}
        if not who.get(bucket) or seconds <= 0:
            return
        if len(self._refusals) >= MAX_REMEMBERED:
            self._refusals.clear()
        until = time.monotonic() + seconds
        self._refusals[(limit, bucket, str(who[bucket]))] = Refusal(until, bucket, message)

    @staticmethod
    def _keys(limit: str, learner: str | None, address: str | None) -> list[tuple[str, str, str]]:
        keys = [(limit, "learner", learner)] if learner else []
        if address:
            keys.append((limit, "address", address_key(address)))
        return keys
