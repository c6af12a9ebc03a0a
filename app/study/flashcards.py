"""Flashcards from the concept notes: a round through the deck, held in the address."""

from __future__ import annotations

import re
from urllib.parse import quote

from app.bank.schema import LearningMode
from app.core.errors import AppError
from app.core.markdown import render, render_inline
from app.questions.catalog import Catalog
from app.study.schemas import FlashcardRound, FlashcardView
from app.study.service import OutOfRangeError, offered

_MARKS = re.compile(r"^[01]*$")


def deck(catalog: Catalog, slug: str) -> list[FlashcardView]:
    offered(catalog, slug, LearningMode.flashcards)
    cards = catalog.topic(slug).topic.flashcards
    return [
        FlashcardView(
            number=number,
            front=card.front,
            front_html=render_inline(card.front),
            back=card.back,
            back_html=render(card.back),
            note=card.note,
            note_title=card.note.replace("`", ""),
            note_fragment=_text_fragment(card.note.replace("`", "")),
        )
        for number, card in enumerate(cards, start=1)
    ]


def _text_fragment(text: str) -> str:
    """A link's text fragment to a heading (the notes' headings carry no id): browsers that
    know `#:~:text=` scroll to it, the others open the page at its top. "-" and "," are
    syntax there, so they are escaped too."""
    return "#:~:text=" + quote(text, safe="").replace("-", "%2D")


def flashcard_round(
    catalog: Catalog, slug: str, *, number: int, marks: str, shown: bool
) -> FlashcardRound:
    """Card `number` of the deck (its back if `shown`), after the `marks` given so far; card
    total + 1 is the round's end."""
    cards = deck(catalog, slug)
    if not 1 <= number <= len(cards) + 1:
        raise OutOfRangeError(
            f"card {number} is out of range: the deck has cards 1 to {len(cards)}"
            f" (card {len(cards) + 1} is the end of a round)",
            field="card",
        )
    if not _MARKS.match(marks) or len(marks) != number - 1:
        raise AppError(
            f"marks must be one 0 (not yet) or 1 (knew it) per card before card {number}",
            field="marks",
        )
    return FlashcardRound(
        topic=slug,
        title=catalog.topic(slug).topic.title,
        total=len(cards),
        number=number,
        shown=shown,
        marks=marks,
        card=cards[number - 1] if number <= len(cards) else None,
        knew=marks.count("1"),
        not_yet=[card for card, mark in zip(cards, marks, strict=False) if mark == "0"],
    )
