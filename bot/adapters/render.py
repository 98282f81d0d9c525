"""Rendering a ``Reply`` as plain text with its numbered source list (shared by adapters)."""

from __future__ import annotations

import re

from bot.core.types import Reply, Source
from knowledge.citations import cited_numbers


def source_lines(sources: tuple[Source, ...], text: str) -> list[str]:
    """``[n] path — title`` for the cited sources (all of them if none is cited)."""
    numbers = cited_numbers(text, len(sources)) or list(range(1, len(sources) + 1))
    return [f"[{n}] {sources[n - 1].source} — {sources[n - 1].title}" for n in sorted(numbers)]


def with_sources(reply: Reply, heading: str) -> str:
    """Reply text plus a source list under ``heading``, paths as inline code (chat markdown)."""
    lines = source_lines(reply.sources, reply.text)
    if not lines:
        return reply.text
    coded = [re.sub(r"^(\[\d+\]) (\S+) — ", r"\1 `\2` — ", line) for line in lines]
    return f"{reply.text}\n\n{heading}\n" + "\n".join(coded)


def plain_text(reply: Reply) -> str:
    lines = source_lines(reply.sources, reply.text)
    return reply.text + ("\n\nSources:\n" + "\n".join(lines) if lines else "")


def split_message(text: str, limit: int) -> list[str]:
    """Split ``text`` into messages of at most ``limit`` characters.

    Cuts at a paragraph, line, sentence or word boundary in the second half of the window
    (never inside a ``[n]`` citation), and closes and reopens a ``` code block cut in two.
    """
    if limit < 16:
        raise ValueError("limit must be at least 16 characters")
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit - 4]  # room to close a code fence
        cut = len(window)
        for sep in ("\n\n", "\n", ". ", " "):
            found = window.rfind(sep)
            if found >= len(window) // 2:
                cut = found + len(sep)
                break
        piece, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if piece.count("```") % 2:
            piece, rest = piece + "\n```", "```\n" + rest
        chunks.append(piece)
    if rest:
        chunks.append(rest)
    return chunks
