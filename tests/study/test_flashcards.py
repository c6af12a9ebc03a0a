"""Flashcards from the concept notes: a round held in the address, through the page and the API."""

from __future__ import annotations

import re
from html import unescape

import pytest
from starlette.testclient import TestClient

from app.bank.schema import Flashcard, LearningMode, Topic
from app.core.errors import NotFoundError
from app.questions.catalog import Catalog, CatalogTopic
from app.study import flashcards

DECK = "/topics/birnn/flashcards"


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def deck_size(client: TestClient) -> int:
    return len(client.get("/api/v1/topics/birnn/flashcards").json())


def test_the_topic_hub_links_the_three_study_modes(client: TestClient) -> None:
    page = client.get("/topics/birnn").text
    for label, url in [
        ("Flashcards", DECK),
        ("Spot the bug", "/topics/birnn/bugs"),
        ("Worked examples", "/topics/birnn/worked"),
    ]:
        assert f'<a href="{url}"><span class="mode-title">{label}</span></a>' in page


def test_the_api_lists_every_card_with_its_section_of_the_notes(client: TestClient) -> None:
    cards = client.get("/api/v1/topics/birnn/flashcards").json()
    assert len(cards) >= 12
    assert [card["number"] for card in cards] == list(range(1, len(cards) + 1))
    notes = client.get("/api/v1/topics/birnn").json()["notes"]
    for card in cards:
        assert f"## {card['note']}\n" in notes
        assert card["front_html"] and card["back_html"]


def test_each_card_links_its_section_with_a_text_fragment(client: TestClient) -> None:
    cards = client.get("/api/v1/topics/birnn/flashcards").json()
    packing = next(card for card in cards if card["note"].startswith("Variable-length"))
    # "-" and "," are the text fragment's syntax: escaped in the heading's text.
    assert packing["note_fragment"] == "#:~:text=Variable%2Dlength%20batches%3A%20packing"
    reading = next(card for card in cards if card["note"].startswith("Reading `h_n`"))
    assert reading["note_title"] == "Reading h_n and combining directions"


def test_the_first_card_shows_its_front_and_a_show_answer_button(client: TestClient) -> None:
    total = deck_size(client)
    response = client.get(DECK)
    assert response.status_code == 200
    text = text_of(response.text)
    assert f"Card 1 of {total}" in text
    assert '<button type="submit">Show answer</button>' in response.text
    assert 'id="card-back"' not in response.text
    assert "Knew it" not in text


def test_show_answer_reveals_the_back_the_section_link_and_the_marks(client: TestClient) -> None:
    card = client.get("/api/v1/topics/birnn/flashcards").json()[2]
    response = client.get(DECK, params={"card": 3, "marks": "10", "show": "true"})
    assert response.status_code == 200
    assert card["back_html"] in response.text
    section = card["note"].replace("`", "")
    assert f">{section}</a> (Learn mode)" in response.text
    assert 'href="/topics/birnn/learn#:~:text=' in response.text
    assert f'href="{DECK}?card=4&amp;marks=101">Knew it</a>' in response.text
    assert f'href="{DECK}?card=4&amp;marks=100">Not yet</a>' in response.text
    assert "So far: you knew 1 and marked 1 “not yet”, of 2 cards done." in text_of(response.text)


def test_the_end_of_a_round_counts_the_marks_and_lists_the_cards_to_read_again(
    client: TestClient,
) -> None:
    cards = client.get("/api/v1/topics/birnn/flashcards").json()
    marks = "0" + "1" * (len(cards) - 1)
    response = client.get(DECK, params={"card": len(cards) + 1, "marks": marks})
    assert response.status_code == 200
    text = text_of(response.text)
    assert f"You went through all {len(cards)} cards: you knew {len(cards) - 1}, and 1 is" in text
    assert cards[0]["front_html"] in response.text
    assert "Start again" in text


def test_a_card_past_the_deck_is_a_422_naming_the_card(client: TestClient) -> None:
    total = deck_size(client)
    page = client.get(DECK, params={"card": total + 2, "marks": "1" * (total + 1)})
    assert page.status_code == 422
    assert f"card {total + 2} is out of range: the deck has cards 1 to {total}" in page.text


def test_marks_that_do_not_match_the_card_are_a_400_naming_marks(client: TestClient) -> None:
    for marks in ("1", "12", "ab"):
        response = client.get(DECK, params={"card": 4, "marks": marks})
        assert response.status_code == 400, marks
        assert "marks must be one 0 (not yet) or 1 (knew it) per card before card 4" in (
            response.text
        )


def test_a_card_number_that_is_not_a_number_is_a_422(client: TestClient) -> None:
    assert client.get(DECK, params={"card": "two"}).status_code == 422
    assert client.get(DECK, params={"card": 0}).status_code == 422


def test_an_unknown_topic_is_a_404(client: TestClient) -> None:
    assert client.get("/topics/nope/flashcards").status_code == 404
    assert client.get("/api/v1/topics/nope/flashcards").status_code == 404


def test_a_topic_that_does_not_offer_a_study_mode_answers_404_for_it() -> None:
    topic = Topic(
        title="T",
        category="C",
        estimated_minutes=5,
        summary="S",
        modes=[LearningMode.learn],
        notes="## Notes\n\nN",
        flashcards=[Flashcard(front="F", back="B", note="Notes")],
    )
    catalog = Catalog([CatalogTopic(1, "plain", topic, ())])
    with pytest.raises(NotFoundError, match="topic 'plain' has no flashcards mode"):
        flashcards.deck(catalog, "plain")
