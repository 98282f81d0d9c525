"""``Store``'s hand-offs: a user asked for a person; open → claimed → resolved.

Status changes are compare-and-set (``UPDATE … WHERE status IN (…)``), so two people
clicking Claim at once cannot both win."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.core.handoff import HandoffView
from bot.core.types import Source
from bot.storage.models import Conversation, Handoff, Message, utcnow


class Handoffs:
    """Mixed into ``Store``; needs its ``session``."""

    session: Callable[[], AbstractContextManager[Session]]

    def add_handoff(self, platform: str, user: str, message_id: int | None,
                    channel: str = "", thread: str = "") -> int:
        """Record that ``user`` asked for a person about message ``message_id`` (an answer,
        or their own message when no answer came before); where they talk defaults to that
        message's conversation."""
        if not channel and message_id is not None:
            channel, thread = self.place_of(message_id) or ("", "")
        with self.session() as s:
            row = Handoff(platform=platform, user=user, message_id=message_id,
                          channel=channel or None, thread=thread or None)
            s.add(row)
            s.flush()
            return row.id

    def place_of(self, message_id: int) -> tuple[str, str] | None:
        """The (channel, thread) of the conversation a message belongs to."""
        with self.session() as s:
            found = s.execute(select(Conversation.channel, Conversation.thread)
                              .join(Message, Message.conversation_id == Conversation.id)
                              .where(Message.id == message_id)).first()
            return (str(found[0]), str(found[1] or "")) if found is not None else None

    def latest_answer(self, platform: str, channel: str, thread: str) -> int | None:
        """The id of the bot's latest answer in this conversation, if any."""
        with self.session() as s:
            return s.scalar(select(Message.id).join(Conversation)
                            .where(Conversation.platform == platform,
                                   Conversation.channel == channel,
                                   Conversation.thread == thread, Message.role == "assistant")
                            .order_by(Message.id.desc()).limit(1))

    def handoffs(self) -> list[Handoff]:
        """Every hand-off row, oldest first."""
        with self.session() as s:
            return list(s.scalars(select(Handoff).order_by(Handoff.id)))

    def handoff(self, handoff_id: int) -> HandoffView | None:
        return next(iter(self._views(Handoff.id == handoff_id)), None)

    def handoff_by_support_ref(self, platform: str, ref: str) -> HandoffView | None:
        """The hand-off whose post in the support channel is ``ref``."""
        return next(iter(self._views(Handoff.platform == platform,
                                     Handoff.support_ref == ref)), None)

    def list_handoffs(self, status: str | None = None, limit: int = 200) -> list[HandoffView]:
        """Hand-offs, newest first; only those with ``status`` if given."""
        where = [Handoff.status == status] if status else []
        return self._views(*where, limit=limit)

    def unresolved_handoff(self, platform: str, channel: str,
                           thread: str) -> HandoffView | None:
        """The newest open or claimed hand-off of this conversation, if any."""
        return next(iter(self._views(
            Handoff.platform == platform, Handoff.channel == channel,
            func.coalesce(Handoff.thread, "") == thread,
            Handoff.status.in_(("open", "claimed")), limit=1)), None)

    def set_support_ref(self, handoff_id: int, ref: str) -> None:
        with self.session() as s:
            s.execute(update(Handoff).where(Handoff.id == handoff_id).values(support_ref=ref))

    def move_handoff(self, handoff_id: int, from_: tuple[str, ...], to: str, by: str,
                     verified_id: int | None = None) -> bool:
        """Set the status to ``to`` if it is one of ``from_`` now; ``False`` otherwise."""
        values: dict[str, Any] = {"status": to}
        if to == "claimed":
            values |= {"claimed_by": by, "claimed_at": utcnow()}
        elif to == "resolved":
            values |= {"resolved_by": by, "resolved_at": utcnow(), "verified_id": verified_id,
                       "claimed_by": func.coalesce(Handoff.claimed_by, by)}
        with self.session() as s:
            done = s.execute(update(Handoff).where(Handoff.id == handoff_id,
                                                   Handoff.status.in_(from_)).values(**values))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def _views(self, *where: Any, limit: int = 200) -> list[HandoffView]:
        with self.session() as s:
            rows = list(s.scalars(select(Handoff).where(*where)
                                  .order_by(Handoff.id.desc()).limit(limit)))
            ids = {r.message_id for r in rows if r.message_id is not None}
            said = {m.id: m for m in s.scalars(select(Message).where(Message.id.in_(ids)))}
            asked = {m.reply_to_id for m in said.values() if m.reply_to_id is not None}
            questions = dict(s.execute(select(Message.id, Message.text)
                                       .where(Message.id.in_(asked))).tuples().all())
            return [_view(r, said.get(r.message_id or 0), questions) for r in rows]


def _view(row: Handoff, message: Message | None, questions: dict[int, str]) -> HandoffView:
    answer = message if message is not None and message.role == "assistant" else None
    if answer is not None:
        question = questions.get(answer.reply_to_id or 0, "")
    else:
        question = message.text if message is not None else ""
    sources = tuple(Source(str(s.get("id", "")), str(s.get("source", "")),
                           str(s.get("title", "")), float(s.get("score", 0.0) or 0.0), "")
                    for s in (answer.sources or []) if isinstance(s, dict)) if answer else ()
    return HandoffView(
        id=row.id, platform=row.platform, user=row.user, status=row.status,
        created_at=row.created_at, message_id=row.message_id, question=question,
        answer=answer.text if answer is not None else "", sources=sources,
        answer_ref=(answer.platform_ref or "") if answer is not None else "",
        channel=row.channel or "", thread=row.thread or "", support_ref=row.support_ref or "",
        claimed_by=row.claimed_by or "", claimed_at=row.claimed_at,
        resolved_by=row.resolved_by or "", resolved_at=row.resolved_at,
        verified_id=row.verified_id)
