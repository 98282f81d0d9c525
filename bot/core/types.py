"""Frozen domain types that adapters produce and the router consumes.

``Turn``, ``Source`` and ``Answer`` are the engine's (``knowledge.types``), re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from knowledge.types import Answer, Role, Source, Turn

__all__ = ["AdminCommand", "Answer", "IncomingMessage", "ReactionEvent", "Reply", "Role",
           "Source", "Ticket", "Turn"]

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
    thread: str = ""  # where it was given (``correct`` acts on the answer in this thread)
    text: str = ""  # what follows the action (``correct``: the corrected answer)


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
