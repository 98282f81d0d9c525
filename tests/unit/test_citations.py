"""Citation markers: parsing and dropping invented ones (attaching: tests/unit/test_guard.py)."""

from __future__ import annotations

from bot.core.types import Answer
from knowledge.citations import cited_numbers, hollow_claim, strip_invalid
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
