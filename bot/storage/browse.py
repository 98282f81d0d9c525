"""``Store``'s conversation browsing for the console: a filtered page of conversations (newest
activity first, keyset-paged on the ``updated_at`` index, so page 1 of 100,000 messages costs
what page 1 of ten does) and one conversation with its votes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.storage.models import Conversation, Feedback, Message

PAGE = 50


@dataclass(frozen=True)
class ConversationFilter:
    platform: str = ""
    voted_down: bool = False  # an answer got 👎
    declined: bool = False  # an answer declined
    adapter: str = ""  # an answer came from this adapter version
    text: str = ""  # a message contains this (a scan: the other filters use indexes)


@dataclass(frozen=True)
class ConversationRow:
    id: int
    platform: str
    channel: str
    user: str
    updated_at: datetime | None
    messages: int
    first_question: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "platform": self.platform, "channel": self.channel,
                "user": self.user, "messages": self.messages,
                "first_question": self.first_question,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None}


class Browse:
    """Mixed into ``Store``; needs its ``session``."""

    session: Callable[[], AbstractContextManager[Session]]

    def conversations(self, where: ConversationFilter = ConversationFilter(),
                      after: tuple[datetime, int] | None = None,
                      limit: int = PAGE) -> list[ConversationRow]:
        """A page of conversations, newest activity first; ``after`` = the last row's
        ``(updated_at, id)`` of the previous page."""
        query = select(Conversation).order_by(Conversation.updated_at.desc(),
                                              Conversation.id.desc()).limit(limit)
        for condition in _conditions(where):
            query = query.where(condition)
        if after is not None:
            query = query.where(or_(Conversation.updated_at < after[0],
                                    and_(Conversation.updated_at == after[0],
                                         Conversation.id < after[1])))
        with self.session() as s:
            found = list(s.scalars(query))
            ids = [c.id for c in found]
            counts: dict[int, int] = {cid: n for cid, n in s.execute(
                select(Message.conversation_id, func.count())
                .where(Message.conversation_id.in_(ids)).group_by(Message.conversation_id))}
            firsts = select(func.min(Message.id)).where(
                Message.conversation_id.in_(ids), Message.role == "user").group_by(
                Message.conversation_id)
            questions: dict[int, str] = {cid: q for cid, q in s.execute(
                select(Message.conversation_id, Message.text).where(Message.id.in_(firsts)))}
            return [ConversationRow(c.id, c.platform, c.channel, c.user, c.updated_at,
                                    counts.get(c.id, 0), questions.get(c.id, ""))
                    for c in found]

    def conversation_messages(self, conversation_id: int) -> list[dict[str, Any]] | None:
        """Every message of one conversation, oldest first, answers with their vote total;
        ``None`` when there is no such conversation."""
        with self.session() as s:
            if s.get(Conversation, conversation_id) is None:
                return None
            rows = list(s.scalars(select(Message).where(
                Message.conversation_id == conversation_id).order_by(Message.id)))
            votes: dict[int, int] = {mid: n for mid, n in s.execute(
                select(Feedback.message_id, func.sum(Feedback.score))
                .where(Feedback.message_id.in_([m.id for m in rows]))
                .group_by(Feedback.message_id))}
            return [{"id": m.id, "role": m.role, "user": m.user, "text": m.text,
                     "sources": m.sources or [], "adapter": m.adapter,
                     "latency_ms": m.latency_ms, "declined": m.declined,
                     "votes": int(votes.get(m.id, 0) or 0),
                     "created_at": m.created_at.isoformat()} for m in rows]


class Trends:
    """Mixed into ``Store``: ``trends`` for the Conversations page's charts."""

    session: Callable[[], AbstractContextManager[Session]]

    def trends(self, days: int = 30) -> list[dict[str, Any]]:
        since = datetime.now(UTC) - timedelta(days=days)
        with self.session() as s:
            return trends(s, since)


def _conditions(where: ConversationFilter) -> list[Any]:
    def has(*clauses: Any) -> Any:
        return exists(select(Message.id).where(Message.conversation_id == Conversation.id,
                                               *clauses))

    out: list[Any] = []
    if where.platform:
        out.append(Conversation.platform == where.platform)
    if where.voted_down:
        out.append(exists(select(Feedback.id).join(Message, Feedback.message_id == Message.id)
                          .where(Message.conversation_id == Conversation.id,
                                 Feedback.score < 0)))
    if where.declined:
        out.append(has(Message.declined.is_(True)))
    if where.adapter:
        out.append(has(Message.adapter == where.adapter))
    if where.text:
        out.append(has(Message.text.contains(where.text, autoescape=True)))
    return out


def trends(session: Session, since: datetime) -> list[dict[str, Any]]:
    """Per day and adapter version since ``since``: answers, declines, 👍 and 👎 votes (one
    pass over the answers of those days, and one over their votes)."""
    day = func.date(Message.created_at)
    rows = session.execute(
        select(day, Message.adapter, func.count(),
               func.sum(case((Message.declined.is_(True), 1), else_=0)))
        .where(Message.role == "assistant", Message.created_at >= since)
        .group_by(day, Message.adapter))
    out: dict[tuple[str, str], dict[str, Any]] = {
        (str(d), a or "base"): {"day": str(d), "adapter": a or "base", "answers": int(n),
                                "declines": int(x or 0), "up": 0, "down": 0}
        for d, a, n, x in rows}
    votes = session.execute(
        select(day, Message.adapter, Feedback.score, func.count())
        .join(Message, Feedback.message_id == Message.id)
        .where(Message.created_at >= since)
        .group_by(day, Message.adapter, Feedback.score))
    for d, a, score, n in votes:
        row = out.get((str(d), a or "base"))
        if row is not None:
            row["up" if score > 0 else "down"] += int(n)
    return sorted(out.values(), key=lambda r: (r["day"], r["adapter"]))
