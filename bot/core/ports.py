"""The router's view of its dependencies, as Protocols (fakes in tests implement them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from bot.core.handoff import HandoffStore
from bot.core.types import Answer, Turn


class AnswerPort(Protocol):
    def answer(self, question: str, history: Sequence[Turn] = (),
               on_text: Callable[[str], None] | None = None) -> Answer:
        """``on_text`` receives the guarded answer so far while it streams (optional)."""


class StorePort(HandoffStore, Protocol):
    def conversation(self, platform: str, channel: str, thread: str, user: str) -> int: ...

    def history(self, conversation_id: int, limit: int) -> list[Turn]: ...

    def claim_delivery(self, event_id: str) -> bool: ...

    def latest_answer(self, platform: str, channel: str, thread: str) -> int | None: ...

    def add_question(
        self, conversation_id: int, user: str, text: str, event_id: str | None = None
    ) -> int | None: ...

    def add_answer(
        self, conversation_id: int, question_id: int | None, answer: Answer
    ) -> int: ...

    def has_conversation(self, platform: str, channel: str, thread: str) -> bool: ...

    def set_platform_ref(self, message_id: int, ref: str) -> None: ...

    def answer_by_ref(self, platform: str, ref: str) -> int | None: ...

    def set_feedback(
        self, message_id: int, platform: str, user: str, reaction: str, score: int
    ) -> None: ...

    def remove_feedback(self, message_id: int, user: str, reaction: str | None = None) -> bool: ...

    def record_admin_action(self, platform: str, user: str, action: str, allowed: bool) -> None: ...

    def add_security_event(self, answer: Answer, platform: str, user: str,
                           message_id: int | None = None) -> None: ...


class KnowledgeAdminPort(Protocol):
    """What admins can do to the knowledge base from a chat platform."""

    def refresh(self, requested_by: str) -> str: ...

    def status_text(self) -> str: ...

    def is_refreshing(self) -> bool: ...

    def train(self, requested_by: str) -> str: ...

    def gaps(self, requested_by: str) -> str:
        """The top knowledge gaps as a short text (``knowledge.gaps``)."""
