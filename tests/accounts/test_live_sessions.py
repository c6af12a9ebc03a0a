"""The per-process cache of sessions found live: kept a few seconds, forgotten at once when this
process ends them, bounded in size."""

from __future__ import annotations

import time

from app.learners.sessions import Account, LiveSessions

ADA = Account(1, "ada@example.org", None, "learner")
BOB = Account(2, "bob@example.org", None, "learner")


def test_a_live_session_is_kept_for_its_seconds_then_asked_again() -> None:
    live = LiveSessions(seconds=0.05)
    live.keep("t1", ADA)
    assert live.get("t1") == ADA and live.get("t2") is None
    time.sleep(0.06)
    assert live.get("t1") is None


def test_signing_out_and_resets_forget_at_once() -> None:
    live = LiveSessions()
    for token, account in (("a1", ADA), ("a2", ADA), ("b1", BOB)):
        live.keep(token, account)
    live.forget("a1")
    assert live.get("a1") is None and live.get("a2") == ADA
    live.forget_user(ADA.user_id)
    assert live.get("a2") is None and live.get("b1") == BOB


def test_the_cache_never_grows_past_its_bound() -> None:
    live = LiveSessions(most=3)
    for i in range(10):
        live.keep(f"t{i}", ADA)
    assert sum(live.get(f"t{i}") is not None for i in range(10)) <= 3
    assert live.get("t9") == ADA
