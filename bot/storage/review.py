"""``Store``'s review queue (issue 26): the answers a person should look at — 👎'd, declined,
handed off to a person, or cut by the grounding guard — newest or most-asked first, without
those a reviewer already dismissed, marked "the docs are missing this", or verified.

One statement builds a page: the candidate answers (one pass over the messages, the votes,
hand-offs, marks and verified answers each read once as ``IN`` sets, never per row), joined to
how often each question was asked (one grouping pass over the questions: about 0.4 s for
100,000 messages on SQLite). Questions count as the same when they match ignoring case,
whitespace and punctuation (``normalised``: portable SQL, SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, distinct, func, or_, select
from sqlalchemy.orm import Session, aliased

from bot.core.review import ACTIONS, KINDS, MARKS, MAX_PAGE, PAGE, SORTS
from bot.storage.models import Feedback, Handoff, Message, ReviewMark, VerifiedAnswer, utcnow
from knowledge.errors import InputError

# removed before comparing questions (with case): "How do I reset?" == "how do i  reset".
# Each is one nested replace(): SQLite's parser allows about 30 in one expression.
IGNORED = " \t\r\n.,;:!?'\"’()-"


@dataclass(frozen=True)
class ReviewItem:
    """An answer in the review queue, with its question and why it is there."""

    message_id: int
    question: str
    context: str
    answer: str
    sources: tuple[dict[str, Any], ...]
    model: str
    adapter: str | None
    created_at: datetime
    reasons: tuple[str, ...]  # a subset of KINDS, in KINDS' order
    asked: int  # how many times this question (normalised) was asked
    users: int  # by how many different users

    def as_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "question": self.question,
                "context": self.context, "answer": self.answer, "sources": list(self.sources),
                "model": self.model, "adapter": self.adapter, "reasons": list(self.reasons),
                "asked": self.asked, "users": self.users,
                "created_at": self.created_at.isoformat()}


class MissingDocsQuestion(NamedTuple):
    """A question whose answer a reviewer marked "the docs are missing this" (gap report)."""

    question: str
    user: str
    created_at: datetime  # when it was asked


def normalised(text: Any) -> ColumnElement[Any]:
    """``text`` lower-cased without whitespace and punctuation, in SQL."""
    out = func.lower(text)
    for char in IGNORED:
        out = func.replace(out, char, "")
    return out


def check_query(kinds: Iterable[str], sort: str, limit: int, offset: int) -> tuple[str, ...]:
    """The kinds asked for (all when none), or ``InputError`` saying what is allowed."""
    chosen = tuple(dict.fromkeys(kinds)) or KINDS
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise InputError(f"unknown kind {unknown[0]!r} — use {', '.join(KINDS)}")
    if sort not in SORTS:
        raise InputError(f"unknown sort {sort!r} — use newest or asked")
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InputError(f"limit is 1-{MAX_PAGE} and offset 0 or more")
    return chosen


class Review:
    """Mixed into ``Store``; needs its ``session`` and ``correct`` (``Verified``)."""

    session: Callable[[], AbstractContextManager[Session]]
    correct: Callable[[int, str | None, str], int]

    def review_queue(self, kinds: Iterable[str] = (), sort: str = "newest", limit: int = PAGE,
                     before: int | None = None, offset: int = 0) -> list[ReviewItem]:
        """A page of the queue: ``kinds`` (default all of ``KINDS``) keeps answers with any of
        those reasons; ``sort`` "newest" (the default) or "asked" (most-asked, then newest);
        ``before`` a message id (the last of the previous page, with "newest") or ``offset``."""
        chosen = check_query(kinds, sort, limit, offset)
        queue = _candidates(chosen, before)
        key = normalised(Message.text)
        asked = (select(key.label("key"), func.count().label("asked"),  # every question
                        func.count(distinct(Message.user)).label("users"))  # (an IN filter
                 .where(Message.role == "user").group_by(key).cte("asked"))  # is slower)
        order = [queue.c.created_at.desc(), queue.c.id.desc()]
        if sort == "asked":
            order.insert(0, asked.c.asked.desc())
        query = (select(queue, asked.c.asked, asked.c.users)
                 .join(asked, asked.c.key == queue.c.key)
                 .order_by(*order).limit(limit).offset(offset))
        with self.session() as s:
            rows = s.execute(query).mappings().all()
        return [ReviewItem(r["id"], r["question"], r["context"] or "", r["text"],
                           tuple(r["sources"] or ()), r["model"] or "", r["adapter"],
                           r["created_at"], tuple(k for k in KINDS if r[k]), int(r["asked"]),
                           int(r["users"])) for r in rows]

    def mark_review(self, message_id: int, status: str, author: str) -> None:
        """Take an answer off the queue: ``dismissed`` (nothing to do) or ``missing`` (the
        documents lack this; ``missing_docs_questions`` lists them for the gap report)."""
        if status not in MARKS:
            raise InputError(f"unknown review mark {status!r} — use dismissed or missing")
        with self.session() as s:
            _answer(s, message_id)
            row = s.scalar(select(ReviewMark).filter_by(message_id=message_id))
            if row is None:
                s.add(ReviewMark(message_id=message_id, status=status, author=author))
            else:
                row.status, row.author, row.created_at = status, author, utcnow()

    def act_on_review(self, message_id: int, action: str, author: str,
                      text: str | None = None) -> int | None:
        """One reviewer action (``ACTIONS``); the verified answer's id for approve and correct.
        The caller records it in the audit log."""
        if action not in ACTIONS:
            raise InputError(f"unknown review action {action!r} — use {', '.join(ACTIONS)}")
        if action in ("dismiss", "missing"):
            self.mark_review(message_id, "dismissed" if action == "dismiss" else "missing",
                             author)
            return None
        if action == "correct" and not (text or "").strip():
            raise InputError("the corrected answer is empty — pass the text in quotes")
        with self.session() as s:
            _answer(s, message_id)
            served = s.scalar(select(VerifiedAnswer.id).where(
                VerifiedAnswer.message_id == message_id, VerifiedAnswer.retracted_at.is_(None)))
        if served is not None:
            raise InputError(f"answer {message_id} is already verified as {served} — edit it: "
                             f"supportbot verified edit {served} \"TEXT\"")
        return self.correct(message_id, text if action == "correct" else None, author)

    def missing_docs_questions(self) -> list[MissingDocsQuestion]:
        """The questions whose answers were marked "the docs are missing this", oldest first."""
        answer, question = aliased(Message), aliased(Message)
        query = (select(question.text, question.user, question.created_at)
                 .select_from(ReviewMark)
                 .join(answer, answer.id == ReviewMark.message_id)
                 .join(question, question.id == answer.reply_to_id)
                 .where(ReviewMark.status == "missing")
                 .order_by(question.created_at, question.id))
        with self.session() as s:
            return [MissingDocsQuestion(*row) for row in s.execute(query)]


def _answer(s: Session, message_id: int) -> Message:
    row = s.get(Message, message_id)
    if row is None or row.role != "assistant":
        raise InputError(f"message {message_id} is not an answer — use a message_id from "
                         "`supportbot review list`")
    return row


def _candidates(kinds: tuple[str, ...], before: int | None) -> Any:
    """The answers with any of ``kinds``' reasons, not marked and not verified (a CTE)."""
    answer, question = aliased(Message), aliased(Message)
    flags: dict[str, ColumnElement[bool]] = {
        "downvoted": answer.id.in_(select(Feedback.message_id).where(Feedback.score < 0)),
        "declined": answer.declined.is_(True),
        "handoff": answer.id.in_(select(Handoff.message_id)
                                 .where(Handoff.message_id.is_not(None))),
        "guard_cut": func.coalesce(answer.guard_cut, 0) > 0,
    }
    verified = select(VerifiedAnswer.message_id).where(VerifiedAnswer.retracted_at.is_(None),
                                                       VerifiedAnswer.message_id.is_not(None))
    query = (select(answer.id, answer.text, answer.context, answer.sources, answer.model,
                    answer.adapter, answer.created_at, question.text.label("question"),
                    normalised(question.text).label("key"),
                    *(flag.label(kind) for kind, flag in flags.items()))
             .join(question, question.id == answer.reply_to_id)
             .where(answer.role == "assistant", or_(*(flags[k] for k in kinds)),
                    answer.id.not_in(select(ReviewMark.message_id)),
                    answer.id.not_in(verified)))
    if before is not None:
        query = query.where(answer.id < before)
    return query.cte("queue")
