"""``Store``'s questions for the knowledge-gap report (``knowledge.gaps``): the questions whose
answer declined, got a net 👎 (the votes on it sum below zero), or was marked "the docs are
missing this" by a reviewer, with who asked and when. Left out: answers a reviewer dismissed
(nothing to do) and answers that became a verified answer still served (a paraphrase of a
verified question is left out by ``knowledge.gaps`` itself, as the engine would serve it).

One query, one row per question, so a question both declined and marked missing counts once
(``missing_docs_questions`` of the review queue lists the marked ones without their ids)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from bot.storage.models import Conversation, Feedback, Message, ReviewMark, VerifiedAnswer
from knowledge.gaps import MAX_QUESTIONS, GapQuestion


class Gaps:
    """Mixed into ``Store``; needs its ``session``."""

    session: Callable[[], AbstractContextManager[Session]]

    def gap_questions(self, limit: int = MAX_QUESTIONS) -> list[GapQuestion]:
        """The latest ``limit`` questions the documents may not answer, newest first. The text
        is the retrieval query the engine used (a follow-up joined with the question before
        it), else the question as asked; the user is ``platform:user``; the sources are the
        ids of the chunks the answer was given from."""
        answer, question = aliased(Message), aliased(Message)
        voted_down = (select(Feedback.message_id).group_by(Feedback.message_id)
                      .having(func.sum(Feedback.score) < 0))
        missing, dismissed = (select(ReviewMark.message_id).where(ReviewMark.status == status)
                              for status in ("missing", "dismissed"))
        verified = select(VerifiedAnswer.message_id).where(
            VerifiedAnswer.retracted_at.is_(None), VerifiedAnswer.message_id.is_not(None))
        query = (
            select(question.id, func.coalesce(func.nullif(answer.query, ""), question.text),
                   Conversation.platform, question.user, question.created_at, answer.sources)
            .select_from(answer)
            .join(question, question.id == answer.reply_to_id)
            .join(Conversation, Conversation.id == question.conversation_id)
            .where(answer.role == "assistant",
                   or_(answer.declined.is_(True), answer.id.in_(voted_down),
                       answer.id.in_(missing)),
                   answer.id.not_in(dismissed), answer.id.not_in(verified))
            .order_by(question.created_at.desc(), question.id.desc()).limit(limit))
        with self.session() as s:
            rows = s.execute(query).all()
        out: dict[int, GapQuestion] = {}  # a question answered twice counts once
        for qid, text, platform, user, asked, sources in rows:
            cited = tuple(str(src["id"]) for src in sources or () if src.get("id"))
            out.setdefault(qid, GapQuestion(qid, text, f"{platform}:{user}", asked, cited))
        return list(out.values())
