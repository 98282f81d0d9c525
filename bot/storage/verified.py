"""``Store``'s verified answers: corrections and approvals by the support team."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.storage.models import Message, VerifiedAnswer, utcnow
from knowledge.errors import InputError
from knowledge.types import VerifiedEntry


class Verified:
    """Mixed into ``Store``; needs its ``session``."""

    session: Callable[[], AbstractContextManager[Session]]

    def correct(self, message_id: int, answer: str | None, author: str) -> int:
        """Make a stored answer verified: ``answer`` is the correction (``None`` approves the
        answer as it is). The id of the verified answer; ``InputError`` for a message id that
        is no answer to a question."""
        with self.session() as s:
            reply = s.get(Message, message_id)
            question = s.get(Message, reply.reply_to_id) if reply and reply.reply_to_id else None
            if reply is None or reply.role != "assistant" or question is None:
                raise InputError(f"message {message_id} is not an answer to a question — use the "
                                 "message_id that `supportbot ask --json` prints")
            text = (answer if answer is not None else reply.text).strip()
            if not text:
                raise InputError("the corrected answer is empty — pass the text in quotes")
            row = VerifiedAnswer(question=question.text, answer=text, sources=reply.sources,
                                 message_id=message_id, author=author)
            s.add(row)
            s.flush()
            return row.id

    def retract_verified(self, verified_id: int) -> bool:
        with self.session() as s:
            row = s.get(VerifiedAnswer, verified_id)
            if row is None or row.retracted_at is not None:
                return False
            row.retracted_at = row.updated_at = utcnow()
            return True

    def edit_verified(self, verified_id: int, answer: str, author: str) -> None:
        """Replace a served verified answer's text (``author`` wrote the new one); the serving
        index reloads it on the next question (``verified_stamp`` changes)."""
        text = answer.strip()
        if not text:
            raise InputError("the new answer is empty — pass the text in quotes")
        with self.session() as s:
            row = s.get(VerifiedAnswer, verified_id)
            if row is None or row.retracted_at is not None:
                raise InputError(f"{verified_id}: no verified answer is served with this id — "
                                 "see `supportbot verified list`")
            row.answer, row.author, row.updated_at = text, author, utcnow()

    def verified_answers(self) -> list[VerifiedEntry]:
        """The verified answers being served (not retracted), oldest first."""
        with self.session() as s:
            rows = s.scalars(select(VerifiedAnswer).where(VerifiedAnswer.retracted_at.is_(None))
                             .order_by(VerifiedAnswer.id))
            return [VerifiedEntry(r.id, r.question, r.answer, tuple(r.sources or ()), r.author,
                                  r.created_at.isoformat()) for r in rows]

    def verified_stamp(self) -> tuple[Any, ...]:
        """Changes whenever a verified answer is added, edited or retracted (cheap)."""
        with self.session() as s:
            return tuple(s.execute(select(func.count(), func.max(VerifiedAnswer.updated_at))
                                   .select_from(VerifiedAnswer)).one())
