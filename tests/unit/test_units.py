"""Numbers with their units, as the grounding guard compares them (``knowledge.units``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knowledge.units import agrees, quantities


@pytest.mark.parametrize(("text", "expected"), [
    ("The reset link is valid for 60 minutes.", {("60", "minute")}),
    ("within 3 business days", {("3", "day")}),
    ("a 30-day refund window", {("30", "day")}),
    ("Team: 250 MB per file", {("250", "mb")}),
    ("20% off the annual price", {("20", "percent")}),
    ("Business: 300 requests per minute per API token", {("300", "per minute")}),
    ("$6.40 per member/month billed annually ($76.80 per member/year)",
     {("6.4", "per month"), ("76.8", "per year")}),
    ("The annual price is $76.80.", {("76.8", "per year")}),
    ("Press and hold for 5 sec.", {("5", "second")}),
])
def test_a_number_takes_the_unit_written_beside_it(text: str, expected: set[tuple[str, str]],
                                                   ) -> None:
    assert quantities(text) == expected


@pytest.mark.parametrize("text", [
    "Free: up to 10 members and 5 active boards",  # counted nouns are not units
    "The daily digest is sent at 8:00 a.m.",  # a time of day
    "Android 10 or later, 24/7 support",
    "It costs $8, billed monthly.",  # the clause break ends the amount's words
])
def test_numbers_without_a_unit_are_left_out(text: str) -> None:
    assert quantities(text) == set()


def test_a_passage_agrees_unless_it_gives_the_number_only_other_units() -> None:
    passage = quantities("Links last 60 minutes; refunds within 30 days or 30 minutes.")
    assert agrees({("60", "minute"), ("30", "day")}, passage)
    assert not agrees({("60", "day")}, passage)
    assert agrees({("45", "day")}, passage)  # a number it lacks is the facts check's to find
    assert agrees({("60", "minute")}, quantities("Valid for 60, then renewed."))


def test_a_period_word_after_an_amount_is_its_period_only_right_after_it() -> None:
    assert quantities("Team costs $8 monthly.") == {("8", "per month")}
    assert quantities("Team: $6.40 billed annually.") == set()  # how it is paid, not per what


@given(st.text(alphabet=st.sampled_from(list("0123456789 $%.,:/-()\nabdehimnoprstuyMBG")),
               max_size=60))
def test_any_text_reads_without_error_and_agrees_with_itself(text: str) -> None:
    found = quantities(text)
    assert all(number and unit for number, unit in found)
    assert agrees(found, found)
