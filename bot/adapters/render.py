"""Rendering a ``Reply`` as plain text with its numbered source list (shared by adapters)."""

from __future__ import annotations

from bot.core.citations import cited_numbers
from bot.core.types import Reply, Source


def source_lines(sources: tuple[Source, ...], text: str) -> list[str]:
    """``[n] path — title`` for the cited sources (all of them if none is cited)."""
    numbers = cited_numbers(text, len(sources)) or list(range(1, len(sources) + 1))
    return [f"[{n}] {sources[n - 1].source} — {sources[n - 1].title}" for n in sorted(numbers)]


def plain_text(reply: Reply) -> str:
    lines = source_lines(reply.sources, reply.text)
    return reply.text + ("\n\nSources:\n" + "\n".join(lines) if lines else "")
