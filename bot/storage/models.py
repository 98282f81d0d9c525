"""SQLAlchemy models. Schema changes go through a new Alembic migration, never an edit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    """One thread of talk: a Slack thread, a DM channel, a local chat session."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("platform", "channel", "thread", name="uq_conversation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(128))
    thread: Mapped[str] = mapped_column(String(128), default="")
    user: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the last message's time: the Conversations page pages by it (indexed)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                        index=True)
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )


class Message(Base):
    """A user question or a bot answer, with what produced it."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # "user" | "assistant"
    user: Mapped[str] = mapped_column(String(128), default="")
    text: Mapped[str] = mapped_column(Text)
    # Platform event id of the question (Slack event_id, ...): UNIQUE, so a retried or
    # duplicated event can never be answered twice, across processes and restarts.
    event_id: Mapped[str | None] = mapped_column(String(128), unique=True, default=None)
    # The platform's id for the posted message (Slack ts, Discord message id).
    platform_ref: Mapped[str | None] = mapped_column(String(128), index=True, default=None)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), default=None)
    query: Mapped[str | None] = mapped_column(Text, default=None)  # condensed retrieval query
    sources: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    context: Mapped[str | None] = mapped_column(Text, default=None)  # exact context shown
    model: Mapped[str | None] = mapped_column(String(256), default=None)
    adapter: Mapped[str | None] = mapped_column(String(256), default=None)
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    # an answer that declined (no grounded answer, blocked, or "I don't know"); None: a question
    declined: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # sentences of the model's answer the grounding guard replaced or dropped (None: a question)
    guard_cut: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Feedback(Base):
    """One vote per user per answer; a new vote replaces the old one."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("message_id", "user", name="uq_feedback_vote"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(128))
    reaction: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RefreshRun(Base):
    """One ingest or refresh of the knowledge index."""

    __tablename__ = "refresh_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "ingest" | "refresh"
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed | interrupted
    requested_by: Mapped[str] = mapped_column(String(128), default="cli")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class AdminAction(Base):
    """An admin command attempt; refused ones are kept too."""

    __tablename__ = "admin_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    allowed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TrainingRun(Base):
    """One adapter training run. status: training | candidate | active | retired | rejected
    | failed."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(128), default="cli")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    data_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    examples: Mapped[int | None] = mapped_column(Integer, default=None)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    gate: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class SecurityEvent(Base):
    """An answer the security check blocked: the customer got the safe reply instead."""

    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "answer_blocked"
    reason: Mapped[str] = mapped_column(Text)  # e.g. "asks the user to send a secret"
    platform: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(128))
    question: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Delivery(Base):
    """A platform event id the router has claimed: a second delivery of it gets no reply."""

    __tablename__ = "deliveries"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Handoff(Base):
    """A user asked for a person about an answer ("Talk to a human")."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # open → claimed → resolved; where the user asked (channel, thread) and the post in the
    # support channel (support_ref), who claimed and resolved it, the verified answer it made
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open",
                                        index=True)
    channel: Mapped[str | None] = mapped_column(String(128), default=None)
    thread: Mapped[str | None] = mapped_column(String(128), default=None)
    support_ref: Mapped[str | None] = mapped_column(String(128), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(128), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    verified_id: Mapped[int | None] = mapped_column(Integer, default=None)


class ReviewMark(Base):
    """A reviewer's decision on an answer in the review queue: ``dismissed`` (nothing to do)
    or ``missing`` (the documents lack this: it feeds the gap report)."""

    __tablename__ = "review_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdminAccount(Base):
    """A web console login (``supportbot admin create NAME``); the password as an argon2 hash."""

    __tablename__ = "admin_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VerifiedAnswer(Base):
    """A support person's answer to a question (a correction, or an answer approved as it is),
    served before the model for the same question or a paraphrase."""

    __tablename__ = "verified_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
