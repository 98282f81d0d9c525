"""Quoting the retrieved sentences closest to the question (``knowledge.quote``)."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.engine import with_quote
from knowledge.quote import RANK_PENALTY, Quote, Quoter


class AxisEmbedder:
    """Embeds a sentence on the axes of the topic words it holds (deterministic, no model)."""

    TOPICS = ("refund", "invoice", "seat")

    def __init__(self) -> None:
        self.calls = 0

    def get_text_embedding_batch(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        return [[float(t in s.lower()) + 0.01 for t in self.TOPICS] for s in texts]


REFUND = [1.0, 0.0, 0.0]
CHUNKS = ["Invoices are emailed monthly to the billing contact. Refund requests go to billing "
          "within 30 days.", "A refund is paid back to the original card. Seats are billed "
          "per member each month."]


def test_the_closest_sentences_come_first_and_a_lower_chunk_loses_ties() -> None:
    quotes = Quoter(AxisEmbedder()).best(REFUND, CHUNKS, limit=2)
    assert [q.sentence[:14] for q in quotes] == ["Refund request", "A refund is pa"]
    assert quotes[0].similarity - quotes[1].similarity < RANK_PENALTY  # equal topic, rank wins
    assert Quoter(AxisEmbedder()).best(REFUND, CHUNKS, limit=0) == []


def test_sentences_are_embedded_once() -> None:
    embedder = AxisEmbedder()
    quoter = Quoter(embedder)
    quoter.best(REFUND, CHUNKS)
    quoter.best(REFUND, CHUNKS)
    assert embedder.calls == 1


def test_quotes_follow_the_answer_in_document_order_without_repeating_it() -> None:
    quotes = [Quote(1, "A refund is paid back to the original card.", 0.7, order=2),
              Quote(0, "Refund requests go to billing within 30 days.", 0.8, order=1)]
    text, grounded = with_quote("Refund requests go to billing within 30 days [1].", True, quotes)
    assert grounded and text == ("Refund requests go to billing within 30 days [1]. A refund is "
                                 "paid back to the original card [2].")
    text, _ = with_quote("You can ask for one [1].", True, quotes[::-1])
    assert text == ("You can ask for one [1]. Refund requests go to billing within 30 days [1]. "
                    "A refund is paid back to the original card [2].")


def test_a_declined_answer_becomes_the_quotes_only_when_they_are_close() -> None:
    close = [Quote(0, "Refund requests go to billing within 30 days.", 0.8)]
    assert with_quote("I don't know.", False, close) == (
        "Refund requests go to billing within 30 days [1].", True)
    far = [Quote(0, "Refund requests go to billing within 30 days.", 0.3)]
    assert with_quote("I don't know.", False, far) == ("I don't know.", False)
    assert with_quote("I don't know.", False, []) == ("I don't know.", False)
