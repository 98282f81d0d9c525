"""Parsing ``[n]`` citation markers. Pure functions, no dependencies."""

from __future__ import annotations

import re

CITATION = re.compile(r"\[(\d{1,2})\]")


def cited_numbers(text: str, n_sources: int) -> list[int]:
    """Distinct valid citation numbers in order of first appearance."""
    seen: list[int] = []
    for match in CITATION.finditer(text):
        number = int(match.group(1))
        if 1 <= number <= n_sources and number not in seen:
            seen.append(number)
    return seen


def strip_invalid(text: str, n_sources: int) -> str:
    """Remove markers that point at no source (a model inventing ``[7]`` of three)."""

    def keep(match: re.Match[str]) -> str:
        return match.group(0) if 1 <= int(match.group(1)) <= n_sources else ""

    return re.sub(r"\s*\[(\d{1,2})\]", keep, text)


# A claim whose fact is a bare marker: "Orbitask's head office is [1]." A small model that has
# learned the cited-answer format but finds no fact in the context writes the format alone.
# Only verbs and prepositions that cannot end an English claim ("are" and "in" can: "what our
# commitments are [1]", "signing in [1]"); a colon (a list follows) is not a hole.
_HOLLOW = re.compile(
    r"(?<![\w'-])(is|was|by|at|it's|called|named)[ \t]*(\[\d{1,2}\][ \t]*)+(?=[.!?]|$)",
    re.IGNORECASE | re.MULTILINE,
)


def hollow_claim(text: str) -> bool:
    """Whether ``text`` states a fact as a bare citation ("It's [1].") instead of the fact.

    In six sample-set evals the tuned adapter wrote such answers to up to 4 of the 16
    unanswerable questions and to at most 1 of the 90 answerable ones; the base model never
    did (BENCHMARKS.md). Serving declines them instead of showing a sentence with a hole.
    """
    return bool(_HOLLOW.search(text))
