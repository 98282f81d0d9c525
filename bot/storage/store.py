"""The conversation store: one object the rest of the bot talks to about persistence.

SQLite (the default) is opened with WAL, a busy timeout, foreign keys on and
``BEGIN IMMEDIATE`` transactions, so concurrent writers queue instead of failing and a crash
loses nothing committed. Any other SQLAlchemy URL works through ``DATABASE_URL``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, make_url, select, text, update
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.core.types import Answer, Turn
from bot.storage.accounts import AdminAccounts
from bot.storage.browse import Browse, Trends
from bot.storage.gaps import Gaps
from bot.storage.handoffs import Handoffs
from bot.storage.models import (
    AdminAction,
    Conversation,
    Delivery,
    Feedback,
    Message,
    RefreshRun,
    SecurityEvent,
    utcnow,
)
from bot.storage.review import Review
from bot.storage.revisions import MIGRATIONS, head_revision
from bot.storage.stats import Stats
from bot.storage.training_runs import TrainingRuns
from bot.storage.verified import Verified
from knowledge.errors import ConfigError
from training.ports import TrainingFeedbackRow


@dataclass(frozen=True)
class FeedbackRow:
    platform: str
    user: str
    reaction: str
    score: int
    question: str
    answer: str
    created_at: datetime


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL + busy timeout + FKs, and BEGIN IMMEDIATE (SQLAlchemy's documented pysqlite recipe)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return url.rsplit("@", 1)[-1]


class Store(TrainingRuns, AdminAccounts, Stats, Browse, Trends, Verified, Review, Handoffs,
            Gaps):
    """Conversations, messages, feedback, refresh and training runs. Migrates the schema on
    open. Implements ``bot.core.ports.StorePort`` and ``training.ports.TrainingStore``."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(
                    parents=True, exist_ok=True
                )
            self.engine = create_engine(url)
            if self.engine.dialect.name == "sqlite":
                _sqlite_pragmas(self.engine)
            self.migrate()
        except ImportError as exc:
            raise ConfigError(
                f"The database driver for {self.safe_url} is not installed ({exc.name}) — "
                "pip install it, or unset DATABASE_URL to use SQLite."
            ) from None
        except ArgumentError:  # not a database URL at all
            raise ConfigError(
                f"DATABASE_URL {self.safe_url!r} is not a database URL — use e.g. "
                "sqlite:///path/to/supportbot.db or postgresql+psycopg://user@host/db."
            ) from None
        except (SQLAlchemyError, OSError) as exc:  # OSError: the folder cannot be created
            raise ConfigError(
                f"Cannot open the database {self.safe_url}: {exc.__class__.__name__} — "
                "check DATABASE_URL and that the folder is writable."
            ) from None
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and status."""
        return _masked(self.url)

    def migrate(self) -> None:
        """Apply every Alembic migration not yet applied (append-only history)."""
        if self._at_head():
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def _at_head(self) -> bool:
        """Whether the database is already at the newest migration (then Alembic is not needed)."""
        head = head_revision()
        if head is None:
            return False
        try:
            with self.engine.connect() as connection:
                current = connection.execute(text("SELECT version_num FROM alembic_version"))
                return list(current.scalars()) == [head]
        except SQLAlchemyError:  # no version table yet: a new database
            return False

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._session.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # conversations and messages -------------------------------------------------------
    def conversation(self, platform: str, channel: str, thread: str, user: str) -> int:
        """The id of the conversation for this place, created on first use."""
        key = {"platform": platform, "channel": channel, "thread": thread}
        with self.session() as s:
            found = s.scalar(select(Conversation.id).filter_by(**key))
            if found is not None:
                return found
            row = Conversation(user=user, **key)
            s.add(row)
            s.flush()
            return row.id

    def history(self, conversation_id: int, limit: int) -> list[Turn]:
        """The last ``limit`` messages, oldest first."""
        if limit <= 0:
            return []
        with self.session() as s:
            rows = s.scalars(
                select(Message)
                .filter_by(conversation_id=conversation_id)
                .order_by(Message.id.desc())
                .limit(limit)
            ).all()
        return [Turn(role=r.role, text=r.text) for r in reversed(rows)]  # type: ignore[arg-type]

    def claim_delivery(self, event_id: str) -> bool:
        """Claim a platform event id; ``False`` if it was claimed before (a repeated delivery).

        The primary key decides, so two processes racing on one id cannot both win."""
        try:
            with self.session() as s:
                s.add(Delivery(event_id=event_id))
            return True
        except IntegrityError:
            return False

    def add_question(
        self, conversation_id: int, user: str, text: str, event_id: str | None = None
    ) -> int | None:
        """Store a question; ``None`` if its ``event_id`` was already stored (a duplicate)."""
        try:
            with self.session() as s:
                row = Message(
                    conversation_id=conversation_id,
                    role="user",
                    user=user,
                    text=text,
                    event_id=event_id,
                )
                s.add(row)
                s.execute(update(Conversation).where(Conversation.id == conversation_id)
                          .values(updated_at=utcnow()))
                s.flush()
                return row.id
        except IntegrityError:
            return None

    def add_answer(self, conversation_id: int, question_id: int | None, answer: Answer) -> int:
        with self.session() as s:
            row = Message(
                conversation_id=conversation_id,
                role="assistant",
                text=answer.text,
                reply_to_id=question_id,
                query=answer.query,
                sources=[{k: v for k, v in src.as_dict().items() if k != "text"}
                         for src in answer.sources],
                context=answer.context,
                model=answer.model,
                adapter=answer.adapter,
                latency_ms=answer.latency_ms,
                declined=answer.declined,
                guard_cut=answer.guard_cut,
            )
            s.add(row)
            s.execute(update(Conversation).where(Conversation.id == conversation_id)
                      .values(updated_at=utcnow()))
            s.flush()
            return row.id

    def set_platform_ref(self, message_id: int, ref: str) -> None:
        with self.session() as s:
            row = s.get(Message, message_id)
            if row is not None:
                row.platform_ref = ref

    def answer_by_ref(self, platform: str, ref: str) -> int | None:
        """The id of the bot answer posted on ``platform`` as ``ref``, if it is one."""
        with self.session() as s:
            return s.scalar(
                select(Message.id)
                .join(Conversation)
                .where(Message.platform_ref == ref, Message.role == "assistant")
                .where(Conversation.platform == platform)
            )

    def message(self, message_id: int) -> Message | None:
        with self.session() as s:
            return s.get(Message, message_id)

    # feedback --------------------------------------------------------------------------
    def set_feedback(
        self, message_id: int, platform: str, user: str, reaction: str, score: int
    ) -> None:
        """Record a vote; a user's later vote on the same answer replaces the earlier one."""
        with self.session() as s:
            row = s.scalar(select(Feedback).filter_by(message_id=message_id, user=user))
            if row is None:
                s.add(Feedback(message_id=message_id, platform=platform, user=user,
                               reaction=reaction, score=score))
            else:
                row.reaction, row.score, row.created_at = reaction, score, utcnow()

    def remove_feedback(self, message_id: int, user: str, reaction: str | None = None) -> bool:
        with self.session() as s:
            query = delete(Feedback).filter_by(message_id=message_id, user=user)
            if reaction is not None:
                query = query.filter_by(reaction=reaction)
            return bool(s.execute(query).rowcount)  # type: ignore[attr-defined]

    def list_feedback(self) -> list[FeedbackRow]:
        with self.session() as s:
            rows = s.execute(
                select(Feedback, Message).join(Message, Feedback.message_id == Message.id)
                .order_by(Feedback.id)
            ).all()
            questions = {
                m.id: m.text
                for m in s.scalars(
                    select(Message).where(Message.id.in_([a.reply_to_id for _, a in rows]))
                )
            }
        return [
            FeedbackRow(f.platform, f.user, f.reaction, f.score,
                        questions.get(a.reply_to_id or 0, ""), a.text, f.created_at)
            for f, a in rows
        ]

    def has_conversation(self, platform: str, channel: str, thread: str) -> bool:
        """Whether the bot already talks in this thread (so follow-ups need no mention)."""
        with self.session() as s:
            return s.scalar(
                select(Conversation.id).filter_by(platform=platform, channel=channel,
                                                  thread=thread)
            ) is not None

    def record_admin_action(self, platform: str, user: str, action: str, allowed: bool) -> None:
        with self.session() as s:
            s.add(AdminAction(platform=platform, user=user, action=action, allowed=allowed))

    def admin_actions(self) -> list[AdminAction]:
        with self.session() as s:
            return list(s.scalars(select(AdminAction).order_by(AdminAction.id)))

    # security events -------------------------------------------------------------------
    def add_security_event(self, answer: Answer, platform: str, user: str,
                           message_id: int | None = None) -> None:
        """Record an answer the security check blocked (``answer.security`` says why)."""
        with self.session() as s:
            s.add(SecurityEvent(
                kind="answer_blocked", reason=answer.security, platform=platform, user=user,
                question=answer.query, sources=[src.as_dict() for src in answer.sources],
                message_id=message_id))

    def security_events(self, limit: int = 100) -> list[SecurityEvent]:
        """The latest security events, newest first."""
        with self.session() as s:
            return list(s.scalars(
                select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(limit)))

    # refresh runs ----------------------------------------------------------------------
    def start_refresh(self, kind: str, requested_by: str = "cli") -> int:
        with self.session() as s:
            row = RefreshRun(kind=kind, status="running", requested_by=requested_by)
            s.add(row)
            s.flush()
            return row.id

    def finish_refresh(
        self, run_id: int, status: str, stats: dict[str, Any] | None = None, error: str = ""
    ) -> None:
        with self.session() as s:
            row = s.get(RefreshRun, run_id)
            if row is not None:
                row.status, row.stats, row.finished_at = status, stats, utcnow()
                row.error = error or None

    def interrupt_stale_refreshes(self) -> int:
        """Mark runs left 'running' by a killed process; call only while holding the lock."""
        with self.session() as s:
            rows = s.scalars(select(RefreshRun).filter_by(status="running")).all()
            for row in rows:
                row.status, row.finished_at = "interrupted", utcnow()
            return len(rows)

    def refresh_runs(self, limit: int = 20) -> list[RefreshRun]:
        with self.session() as s:
            return list(
                s.scalars(select(RefreshRun).order_by(RefreshRun.id.desc()).limit(limit))
            )

    # training data (read-only) ---------------------------------------------------------
    def training_feedback(self) -> list[TrainingFeedbackRow]:
        """Every vote with its answer, question, context and any user reply before the next
        bot answer in the same conversation (a likely correction); oldest vote first."""
        with self.session() as s:
            rows = s.execute(
                select(Feedback, Message).join(Message, Feedback.message_id == Message.id)
                .order_by(Feedback.created_at, Feedback.id)
            ).all()
            conversations = sorted({a.conversation_id for _, a in rows})
            talk = s.execute(
                select(Message.id, Message.conversation_id, Message.role, Message.text)
                .where(Message.conversation_id.in_(conversations)).order_by(Message.id)
            ).all()
        texts = {m.id: m.text for m in talk}
        replies = _replies_after_answers(list(talk))
        return [
            TrainingFeedbackRow(
                feedback_id=f.id, platform=f.platform, user=f.user, score=f.score,
                created_at=f.created_at, message_id=a.id, conversation_id=a.conversation_id,
                question=texts.get(a.reply_to_id or 0, ""), query=a.query or "", answer=a.text,
                context=a.context or "", sources=list(a.sources or []),
                correction=replies.get(a.id),
            )
            for f, a in rows
        ]


def _replies_after_answers(talk: list[Any]) -> dict[int, str]:
    """Answer id → the first user message that follows it before the next bot answer."""
    replies: dict[int, str] = {}
    last_answer: dict[int, int | None] = {}
    for m in talk:  # ordered by id
        if m.role == "assistant":
            last_answer[m.conversation_id] = m.id
        elif (answer_id := last_answer.get(m.conversation_id)) is not None:
            replies.setdefault(answer_id, m.text)
            last_answer[m.conversation_id] = None
    return replies
