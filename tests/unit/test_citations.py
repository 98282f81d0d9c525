"""Citation markers: parsing, dropping invented ones, attaching missing ones."""

from __future__ import annotations

from bot.core.citations import cited_numbers, hollow_claim, strip_invalid
from bot.core.types import Answer
from knowledge.engine import attach_citations
from tests.fakes import make_source

REFUNDS = make_source(1, "billing/refunds.md",
                      "Annual subscriptions can be refunded within 30 days of purchase.")
TWO_FA = make_source(2, "accounts/2fa.md",
                     "Scan the QR code with an authenticator app and type the six-digit code.")


def test_cited_numbers_are_distinct_valid_and_in_order_of_appearance() -> None:
    assert cited_numbers("B [2] then A [1], again [2], bogus [7] and [0].", 3) == [2, 1]


def test_cited_numbers_without_markers_or_sources() -> None:
    assert cited_numbers("No markers here.", 3) == []
    assert cited_numbers("Marker [1] but no sources.", 0) == []


def test_strip_invalid_removes_only_out_of_range_markers_and_their_space() -> None:
    text = "Refunds take 30 days [1]. Codes expire [4]. Nothing [0]."
    assert strip_invalid(text, 2) == "Refunds take 30 days [1]. Codes expire. Nothing."


def test_strip_invalid_keeps_all_markers_in_range() -> None:
    text = "First [1] and second [2]."
    assert strip_invalid(text, 2) == text


def test_attach_citations_cites_the_overlapping_chunk() -> None:
    text = ("Annual subscriptions are refunded within 30 days of purchase. "
            "Scan the QR code with an authenticator app.")
    out = attach_citations(text, (REFUNDS, TWO_FA))
    assert out == ("Annual subscriptions are refunded within 30 days of purchase [1]. "
                   "Scan the QR code with an authenticator app [2].")


def test_attach_citations_leaves_unrelated_sentences_uncited() -> None:
    out = attach_citations("Hello there. Annual subscriptions refunded within 30 days.",
                           (REFUNDS,))
    assert out == "Hello there. Annual subscriptions refunded within 30 days [1]."


def test_attach_citations_keeps_the_models_valid_markers() -> None:
    text = "Scan the QR code [2]. Annual subscriptions are refunded within 30 days."
    assert attach_citations(text, (REFUNDS, TWO_FA)) == text


def test_attach_citations_keeps_the_line_breaks_of_steps() -> None:
    text = ("Here's how:\n1. Scan the QR code with an authenticator app.\n"
            "2. Type the six-digit code.")
    out = attach_citations(text, (REFUNDS, TWO_FA))
    assert out.split("\n")[0] == "Here's how:"
    assert out.count("\n") == 2 and "authenticator app [2]." in out


def test_attach_citations_replaces_invented_markers() -> None:
    out = attach_citations("Annual subscriptions are refunded within 30 days [9].",
                           (REFUNDS, TWO_FA))
    assert "[9]" not in out
    assert cited_numbers(out, 2) == [1]


def test_attach_citations_without_sources_returns_text_unchanged() -> None:
    assert attach_citations("Plain text [1].", ()) == "Plain text."
    assert attach_citations("Plain text.", ()) == "Plain text."


def test_answer_cited_sources_follow_citation_order() -> None:
    answer = Answer("See [2] and [1] and [2].", (REFUNDS, TWO_FA), 1.0, "m", None, "q")
    assert answer.cited_sources() == (TWO_FA, REFUNDS)


def test_a_bare_marker_in_place_of_the_fact_is_a_hollow_claim() -> None:
    for text in ("Orbitask's head office is [1].", "Orbitask was founded by [1].",
                 "Yes, there is a Linux app. It's [1]. Download it today.",
                 "Our office is at [2]\nCall us.", "The feature is called [1] [2]."):
        assert hollow_claim(text), text
    for text in ("The Team plan is $8 per member per month [1].",
                 "Here is what our uptime commitments are [1].",
                 "Link a pull request by signing in [1].",
                 "The password rules are [1]:\n- at least 12 characters",
                 "Open Settings > Security [1]. It is [1] that says so? no",
                 "Single sign-on [1]."):
        assert not hollow_claim(text), text
