"""The router: platform-neutral handling of questions, reactions and admin commands.

question → ``accept`` (stored; a duplicate event id is refused by the database) → ``answer``
(history + engine, the answer stored before the adapter posts it) → ``Reply``. Adapters call
``accept`` while acknowledging and ``answer`` in the worker pool.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping

from bot.core.handoff import HandoffService
from bot.core.handoff_words import asks_for_human
from bot.core.limits import RateLimiter
from bot.core.ports import AnswerPort, KnowledgeAdminPort, StorePort
from bot.core.types import (
    AdminCommand,
    Answer,
    IncomingMessage,
    ReactionEvent,
    Reply,
    Ticket,
)
from knowledge.errors import SupportbotError

log = logging.getLogger(__name__)

DEFAULT_REACTIONS: Mapping[str, int] = {
    "+1": 1, "-1": -1, "thumbsup": 1, "thumbsdown": -1, "👍": 1, "👎": -1,
}
BUSY = "I'm answering a lot of questions right now — please try again in a minute."
TOO_SLOW = "Sorry, that took too long to answer. Please try again, or ask for a human."
RATE_LIMITED = "You're asking faster than I can answer — please wait a moment and try again."
RESTARTING = "I'm restarting right now — please ask again in a minute."
HANDOFF_RECORDED = ("Thanks — I've asked a member of our support team to follow up with you "
                    "here.")
HANDOFF_ALREADY = ("I've already asked our support team — a person will follow up with you "
                   "here.")


class Router:
    def __init__(self, store: StorePort, engine: AnswerPort, history_turns: int = 6,
                 max_question_chars: int = 2000,
                 reactions: Mapping[str, int] = DEFAULT_REACTIONS,
                 limiter: RateLimiter | None = None,
                 admin: KnowledgeAdminPort | None = None,
                 admins: Mapping[str, frozenset[str]] | None = None,
                 handoffs: HandoffService | None = None) -> None:
        self.store, self.engine, self.admin = store, engine, admin
        self.handoffs = handoffs or HandoffService(store)
        self.history_turns, self.max_chars = history_turns, max_question_chars
        self.reactions = dict(reactions)
        self.limiter = limiter or RateLimiter(0)
        self.admins = dict(admins or {})  # platform → user ids and role names allowed
        self.accepting = True  # False while shutting down: new questions get RESTARTING
        # called with (platform, answer) for every answer recorded (the web console's metrics)
        self.observers: list[Callable[[str, Answer], None]] = []

    def stop_accepting(self) -> None:
        """Answer no new questions (those in flight still finish): the first step of a stop."""
        self.accepting = False

    # questions --------------------------------------------------------------------------
    def claim(self, msg: IncomingMessage) -> bool:
        """Claim the message's event id; ``False`` for a repeated delivery (reply nothing).

        ``accept`` claims it first thing; an adapter that must act before accepting (Discord
        opens a thread) claims it itself and passes ``claimed=True``."""
        return not msg.event_id or self.store.claim_delivery(delivery_key(msg.event_id))

    def accept(self, msg: IncomingMessage, claimed: bool = False) -> Ticket | Reply:
        """Validate and store a question. A ``Reply`` means: post it (or, if duplicate, nothing).

        The event id is claimed before anything else, so a repeated delivery gets no second
        reply whatever the first one was (too long, empty, rate-limited, busy, failed)."""
        event_id = delivery_key(msg.event_id) if msg.event_id else None
        if not claimed and event_id is not None and not self.store.claim_delivery(event_id):
            return Reply("", thread=msg.thread, duplicate=True)
        if not self.accepting:
            return Reply(RESTARTING, thread=msg.thread)
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
        if self.handoffs.holds(msg):  # a person of the team talks here: not for the bot
            return Reply("", thread=msg.thread, duplicate=True)
        question_id = self.store.add_question(conversation, msg.user, text, event_id)
        if question_id is None:
            return Reply("", thread=msg.thread, duplicate=True)
        if asks_for_human(text):
            return Reply(self._handoff_in_words(msg, question_id), thread=msg.thread)
        if not self.limiter.allow(f"{msg.platform}:{msg.user}"):
            return Reply(RATE_LIMITED, thread=msg.thread)
        return Ticket(msg, conversation, question_id, tuple(history))

    def answer(self, ticket: Ticket, on_text: Callable[[str], None] | None = None) -> Reply:
        """Generate, store, and return the answer (slow: run it in the worker pool);
        ``on_text`` receives the guarded text so far while it streams."""
        try:
            answer = self.engine.answer(ticket.message.text.strip(), ticket.history, on_text)
        except SupportbotError as exc:
            log.warning("could not answer: %s", exc)
            return Reply(f"Sorry, I can't answer right now: {exc}", thread=ticket.message.thread)
        answer_id = self.store.add_answer(ticket.conversation_id, ticket.question_id, answer)
        for observe in self.observers:
            observe(ticket.message.platform, answer)
        if answer.security:
            log.warning("blocked an answer: %s", answer.security)
            self.store.add_security_event(answer, ticket.message.platform, ticket.message.user,
                                          answer_id)
        return Reply(answer.text, answer.sources, answer_id, ticket.message.thread)

    def handle_message(self, msg: IncomingMessage) -> Reply:
        """``accept`` then ``answer`` in the calling thread (local chat, tests)."""
        accepted = self.accept(msg)
        return accepted if isinstance(accepted, Reply) else self.answer(accepted)

    def knows_thread(self, platform: str, channel: str, thread: str) -> bool:
        """Whether the bot already answers in this thread (follow-ups need no mention)."""
        return self.store.has_conversation(platform, channel, thread)

    def mark_posted(self, message_id: int, platform_ref: str) -> None:
        """Remember the platform's id of a posted answer, so reactions can find it."""
        self.store.set_platform_ref(message_id, platform_ref)

    # reactions --------------------------------------------------------------------------
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

    def request_human(self, platform: str, user: str, message_ref: str) -> str:
        """"Talk to a human" on an answer: recorded and posted to the support channel; the
        reply tells the user what happens."""
        _, new = self.handoffs.request(platform, user,
                                       self.store.answer_by_ref(platform, message_ref))
        return HANDOFF_RECORDED if new else HANDOFF_ALREADY

    def _handoff_in_words(self, msg: IncomingMessage, question_id: int) -> str:
        """The user asked for a person in words: a hand-off about the bot's latest answer in
        this conversation (or, before any answer, about what they wrote)."""
        latest = self.store.latest_answer(msg.platform, msg.channel, msg.thread)
        _, new = self.handoffs.request(msg.platform, msg.user, latest or question_id,
                                       msg.channel, msg.thread)
        return HANDOFF_RECORDED if new else HANDOFF_ALREADY

    # admin ------------------------------------------------------------------------------
    def is_admin(self, cmd: AdminCommand) -> bool:
        allowed = self.admins.get(cmd.platform, frozenset())
        return cmd.user in allowed or any(role in allowed for role in cmd.roles)

    def handle_admin(self, cmd: AdminCommand, notify: Callable[[str], None]) -> str:
        """Run ``/kb`` actions. Returns the immediate reply; ``notify`` gets the late result."""
        if cmd.action == "correct":
            return self.correct(cmd)[1]
        if self.admin is None:
            return "Knowledge administration is not available here."
        if cmd.action == "status":
            self.store.record_admin_action(cmd.platform, cmd.user, "status", True)
            return self.admin.status_text()
        if cmd.action not in ("refresh", "train", "gaps"):
            return (f"Unknown command {cmd.action!r} — use `refresh`, `train`, `gaps`, `status` "
                    "or `correct`.")
        allowed = self.is_admin(cmd)
        self.store.record_admin_action(cmd.platform, cmd.user, cmd.action, allowed)
        if not allowed:  # gaps too: it shows what customers asked (status alone is open)
            what = "see its gaps" if cmd.action == "gaps" else f"{cmd.action} it"
            return f"Sorry, only knowledge-base admins can {what}. Ask one of them."
        if cmd.action == "refresh" and self.admin.is_refreshing():
            return "A knowledge refresh is already running — I'll keep using the current index."
        threading.Thread(target=self._background, args=(cmd, notify), daemon=True).start()
        if cmd.action == "train":
            return "Training a new adapter in the background — I'll post the gate result here."
        if cmd.action == "gaps":
            return "Looking for knowledge gaps — I'll post them here."
        return "Refreshing the knowledge base in the background — I'll post the result here."

    def correct(self, cmd: AdminCommand) -> tuple[bool, str]:
        """``/kb correct TEXT`` in an answer's thread (admins only, audited): ``TEXT`` becomes
        the verified answer to the question of the bot's latest answer there. ``(done,
        reply)``."""
        if not self.is_admin(cmd):
            self.store.record_admin_action(cmd.platform, cmd.user, "correct", False)
            return False, "Sorry, only knowledge-base admins can correct answers. Ask one of them."
        if not cmd.text.strip():
            return False, ("Write the correct answer after it: `kb correct THE ANSWER`, in the "
                           "thread of the answer to correct.")
        answer = self.store.latest_answer(cmd.platform, cmd.channel, cmd.thread)
        if answer is None:
            return False, ("There's no answer of mine here to correct — reply `kb correct THE "
                           "ANSWER` in the thread of the answer.")
        try:
            verified = self.store.correct(answer, cmd.text, f"{cmd.platform}:{cmd.user}")
        except SupportbotError as exc:
            return False, f"I couldn't correct it: {exc}"
        self.store.record_admin_action(cmd.platform, cmd.user, f"verify {verified}", True)
        return True, (f"Corrected (verified answer {verified}): I'll answer this question and "
                      "its paraphrases with your answer from now on.")

    def _background(self, cmd: AdminCommand, notify: Callable[[str], None]) -> None:
        admin = self.admin
        if admin is None:  # handle_admin checked
            return
        job, what = {"train": (admin.train, "Training"), "gaps": (admin.gaps, "The gap report")
                     }.get(cmd.action, (admin.refresh, "Knowledge refresh"))
        try:
            notify(job(f"{cmd.platform}:{cmd.user}"))
        except SupportbotError as exc:
            notify(f"{what} failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - report, never kill the bot
            log.exception("%s failed", what)
            notify(f"{what} failed unexpectedly ({type(exc).__name__}); see the logs.")


def delivery_key(event_id: str) -> str:
    """A platform event id as stored: ids over 128 characters become their SHA-256."""
    if len(event_id) <= 128:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode("utf-8", "replace")).hexdigest()
