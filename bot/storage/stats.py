"""``Store``'s totals for /metrics: feedback votes, refresh runs and training runs."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.storage.models import Conversation, Feedback, Handoff, Message, RefreshRun, TrainingRun


class Stats:
    """Mixed into ``Store``; needs its ``session``. Each total is one indexed GROUP BY."""

    session: Callable[[], AbstractContextManager[Session]]

    def totals(self) -> dict[str, dict[str, int]]:
        """``{"feedback": {"1": n, "-1": n}, "refresh_runs": {status: n},
        "training_runs": {status: n}, "handoffs": {"all": n}, "questions": {platform: n}}``."""
        with self.session() as s:
            def grouped(column: object) -> dict[str, int]:
                rows = s.execute(select(column, func.count()).group_by(column))  # type: ignore[call-overload]
                return {str(key): int(count) for key, count in rows}

            return {"feedback": grouped(Feedback.score),
                    "refresh_runs": grouped(RefreshRun.status),
                    "training_runs": grouped(TrainingRun.status),
                    "handoffs": {"all": int(s.scalar(select(func.count()).select_from(Handoff))
                                            or 0)},
                    "questions": grouped_questions(s)}

    def answers_by_adapter(self) -> dict[str, int]:
        """How many answers each adapter version gave (``"base"``: no adapter)."""
        with self.session() as s:
            rows = s.execute(select(Message.adapter, func.count()).where(
                Message.role == "assistant").group_by(Message.adapter))
            return {str(adapter or "base"): int(count) for adapter, count in rows}


def grouped_questions(session: Session) -> dict[str, int]:
    """Questions stored, by platform (every platform's, not only this process's)."""
    rows = session.execute(select(Conversation.platform, func.count()).join(
        Message, Message.conversation_id == Conversation.id).where(Message.role == "user")
        .group_by(Conversation.platform))
    return {str(platform): int(count) for platform, count in rows}
