"""Rendering replies as plain text with their sources."""

from __future__ import annotations

import re

import pytest

from bot.adapters.render import plain_text, source_lines, split_message
from bot.core.types import Reply
from tests.fakes import make_source

SOURCES = (make_source(1, "billing/refunds.md"), make_source(2, "pricing.md"),
           make_source(3, "2fa.md"))


def test_source_lines_list_only_cited_sources_in_number_order() -> None:
    assert source_lines(SOURCES, "Price [2]. Refund [1]. Again [2].") == [
        "[1] billing/refunds.md — Title 1",
        "[2] pricing.md — Title 2",
    ]


def test_source_lines_list_all_sources_when_none_is_cited() -> None:
    assert len(source_lines(SOURCES, "No markers.")) == 3
    assert source_lines(SOURCES, "Invented [9].")[2] == "[3] 2fa.md — Title 3"


def test_plain_text_appends_sources() -> None:
    text = plain_text(Reply("Refunds take 30 days [1].", SOURCES))
    assert text == ("Refunds take 30 days [1].\n\nSources:\n"
                    "[1] billing/refunds.md — Title 1")


def test_plain_text_without_sources_is_just_the_text() -> None:
    assert plain_text(Reply("I don't know.")) == "I don't know."


def test_split_message_respects_the_limit_and_keeps_all_words() -> None:
    text = " ".join(f"Sentence number {i} cites a source [{i % 3 + 1}]." for i in range(60))
    parts = split_message(text, 200)
    assert len(parts) > 1
    assert all(len(p) <= 200 for p in parts)
    assert " ".join(parts).split() == text.split()
    for part in parts:  # no citation is cut in two
        assert not re.search(r"[\[\]]", re.sub(r"\[\d+\]", "", part))


def test_split_message_short_text_is_one_message() -> None:
    assert split_message("  Short.  ", 100) == ["Short."]
    with pytest.raises(ValueError):
        split_message("x", 5)
