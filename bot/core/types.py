"""Frozen domain types that adapters produce and the router consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def cited_sources(self) -> tuple[Source, ...]:
        """The sources the text actually cites, in citation order."""
        from bot.core.citations import cited_numbers

        return tuple(self.sources[n - 1] for n in cited_numbers(self.text, len(self.sources)))


@dataclass(frozen=True)
class IncomingMessage:
    """A question from a user on some platform."""

    platform: str
    channel: str
    user: str
    text: str
    thread: str = ""
    event_id: str | None = None


@dataclass(frozen=True)
class ReactionEvent:
    """A reaction added to (or removed from) one of the bot's answers."""

    platform: str
    user: str
    reaction: str
    message_ref: str  # the platform's id of the answer message
    added: bool = True


@dataclass(frozen=True)
class AdminCommand:
    """``/kb <action>`` from a user; ``roles`` are platform roles (Discord) for the allowlist."""

    platform: str
    user: str
    action: str
    roles: tuple[str, ...] = ()
    channel: str = ""


@dataclass(frozen=True)
class Ticket:
    """A question accepted for answering: stored, deduplicated, with its history loaded."""

    message: IncomingMessage
    conversation_id: int
    question_id: int
    history: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class Reply:
    """The router's answer to an ``IncomingMessage``; adapters render it."""

    text: str
    sources: tuple[Source, ...] = field(default_factory=tuple)
    message_id: int | None = None  # database id of the stored answer
    thread: str = ""
    duplicate: bool = False  # the event was already answered: adapters post nothing
