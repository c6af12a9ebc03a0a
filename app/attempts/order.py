"""The order a choice question's options are shown in, per attempt: pure functions.

Each attempt (session) at each position shows the options in an order of its own, drawn from a
hash of the session's id and the position, so it is the same on every reload, in every tab and
through the API, with nothing stored. Answers are graded and stored by option identity (the
option's place in the file, as a letter: "canonical"); what a learner sends and sees are the
letters as shown. A question can pin its order (`shuffle: false`).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from app.bank.grading import letter
from app.bank.schema import AnyQuestion, ChoiceQuestion

Order = tuple[int, ...]  # the file's option indexes, in the order shown


def option_order(question: AnyQuestion, session_id: str | None, position: int) -> Order | None:
    """None: no options, the file's order pinned, or no `session_id` (an assignment that
    does not shuffle options)."""
    if not isinstance(question, ChoiceQuestion) or not question.shuffle or session_id is None:
        return None
    seed = hashlib.sha256(f"{session_id}/{position}".encode()).digest()
    order = list(range(len(question.options)))
    random.Random(seed).shuffle(order)  # noqa: S311 - an order to show, not a secret
    return tuple(order)


def to_canonical(answer: Any, order: Order | None) -> Any:
    """Letters as shown -> the options' own letters; anything else is left for grading to
    report (a letter past the options, a number...)."""
    if order is None:
        return answer
    if isinstance(answer, list | tuple):
        return [to_canonical(a, order) for a in answer]
    if isinstance(answer, str) and len(key := answer.strip().upper()) == 1:
        shown = ord(key) - ord("A")
        if 0 <= shown < len(order):
            return letter(order[shown])
    return answer


def to_shown(given: Any, order: Order | None) -> Any:
    """The options' own letters (as stored) -> the letters this attempt shows, sorted."""
    if order is None or given is None:
        return given
    place = {letter(index): letter(shown) for shown, index in enumerate(order)}
    if isinstance(given, list):
        return sorted(place.get(g, g) for g in given)
    return place.get(given, given) if isinstance(given, str) else given
