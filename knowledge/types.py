"""The answer types the engine returns and takes: plain frozen dataclasses, no dependencies.

``bot.core.types`` re-exports them for the router and the adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation, as the engine sees it."""

    role: Role
    text: str


@dataclass(frozen=True)
class Source:
    """A retrieved chunk: ``id`` is stable across refreshes while its text is unchanged."""

    id: str
    source: str
    title: str
    score: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "title": self.title,
            "score": self.score,
            "text": self.text,
        }


@dataclass(frozen=True)
class Answer:
    """What the engine returns: text with ``[n]`` citations into ``sources`` (1-based)."""

    text: str
    sources: tuple[Source, ...]
    latency_ms: float
    model: str
    adapter: str | None
    query: str
    context: str = ""
    grounded: bool = True  # False when nothing relevant was found and the bot said so
    security: str = ""  # why the security check blocked the model's answer ("" = it did not)
    verified: int | None = None  # the verified answer served instead of the model's, if any
    guard_cut: int = 0  # the model's sentences the grounding guard replaced or dropped

    @property
    def declined(self) -> bool:
        """No answer a customer can act on: nothing grounded, blocked, or "I don't know"."""
        from knowledge.prompts import says_dont_know

        return not self.grounded or bool(self.security) or says_dont_know(self.text)

    def cited_sources(self) -> tuple[Source, ...]:
        """The sources the text actually cites, in citation order."""
        from knowledge.citations import cited_numbers

        return tuple(self.sources[n - 1] for n in cited_numbers(self.text, len(self.sources)))


@dataclass(frozen=True)
class VerifiedEntry:
    """An answer the support team wrote or approved for a question (``knowledge.verified``)."""

    id: int
    question: str
    answer: str
    sources: tuple[dict[str, Any], ...] = ()
    author: str = ""
    created_at: str = ""
