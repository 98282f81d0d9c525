"""The router: platform-neutral handling of questions and reactions.

question → history from the store → engine → question and answer persisted → ``Reply``.
The answer is stored before the adapter posts it, so nothing said is ever lost, and a
duplicate event id (a platform retry) is refused by the database, never answered twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.core.ports import AnswerPort, StorePort
from bot.core.types import IncomingMessage, ReactionEvent, Reply
from bot.errors import SupportbotError

log = logging.getLogger(__name__)

DEFAULT_REACTIONS: Mapping[str, int] = {"+1": 1, "-1": -1, "thumbsup": 1, "thumbsdown": -1}


class Router:
    def __init__(self, store: StorePort, engine: AnswerPort, history_turns: int = 6,
                 max_question_chars: int = 2000,
                 reactions: Mapping[str, int] = DEFAULT_REACTIONS) -> None:
        self.store, self.engine = store, engine
        self.history_turns, self.max_chars = history_turns, max_question_chars
        self.reactions = dict(reactions)

    def handle_message(self, msg: IncomingMessage) -> Reply:
        text = msg.text.strip()
        if not text:
            return Reply("Please type a question, and I'll look it up.", thread=msg.thread)
        if len(text) > self.max_chars:
            return Reply(
                f"That message is {len(text):,} characters long; please keep questions under "
                f"{self.max_chars:,} characters.", thread=msg.thread,
            )
        conversation = self.store.conversation(msg.platform, msg.channel, msg.thread, msg.user)
        history = self.store.history(conversation, self.history_turns)
        question_id = self.store.add_question(conversation, msg.user, text, msg.event_id)
        if question_id is None:
            return Reply("", thread=msg.thread, duplicate=True)
        try:
            answer = self.engine.answer(text, history)
        except SupportbotError as exc:
            log.warning("could not answer: %s", exc)
            return Reply(f"Sorry, I can't answer right now: {exc}", thread=msg.thread)
        answer_id = self.store.add_answer(conversation, question_id, answer)
        return Reply(answer.text, answer.sources, answer_id, msg.thread)

    def mark_posted(self, message_id: int, platform_ref: str) -> None:
        """Remember the platform's id of a posted answer, so reactions can find it."""
        self.store.set_platform_ref(message_id, platform_ref)

    def handle_reaction(self, event: ReactionEvent) -> bool:
        """Record (or remove) feedback; ``False`` if it is not a feedback reaction on an answer."""
        score = self.reactions.get(event.reaction)
        if score is None:
            return False
        message_id = self.store.answer_by_ref(event.platform, event.message_ref)
        if message_id is None:
            return False
        if event.added:
            self.store.set_feedback(message_id, event.platform, event.user, event.reaction, score)
            return True
        return self.store.remove_feedback(message_id, event.user, event.reaction)
