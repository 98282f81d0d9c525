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
