"""Hand-off to a human, once for every platform: record → post to the support channel →
open → claimed → resolved (optionally with the person's answer made a verified answer).

A user asks for a person ("Talk to a human" on an answer, or in words: ``handoff_words``);
``HandoffService.request`` records the hand-off with where the user talks (channel, thread)
and asks the platform's ``SupportDesk`` (the adapter's support channel, if one is configured)
to post it with the question, the answer, its sources, a link and a mention of the team.
Claim and resolve come from the desk's buttons, the console or the CLI; each change is
audited and shown on the desk's post. "Resolve & verify" takes the latest message a person
of the team wrote in the user's thread and makes it the verified answer to the question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.core.types import IncomingMessage, Source
from knowledge.errors import InputError

log = logging.getLogger(__name__)
STATUSES = ("open", "claimed", "resolved")


@dataclass(frozen=True)
class HandoffView:
    """A hand-off with the question and answer it is about (``answer`` is "" when the user
    asked for a person before any answer: ``question`` is then what they wrote)."""

    id: int
    platform: str
    user: str
    status: str
    created_at: datetime
    message_id: int | None = None
    question: str = ""
    answer: str = ""
    sources: tuple[Source, ...] = field(default_factory=tuple)
    answer_ref: str = ""  # the platform's id of the posted answer
    channel: str = ""
    thread: str = ""
    support_ref: str = ""  # the post in the support channel
    claimed_by: str = ""
    claimed_at: datetime | None = None
    resolved_by: str = ""
    resolved_at: datetime | None = None
    verified_id: int | None = None

    def status_line(self, who: Callable[[str], str]) -> str:
        """"open", "claimed by …" or "resolved by …", and the verified answer it made, for the
        support channel's post; ``who`` shows a "platform:user" as the platform names people."""
        status = {"open": "open", "claimed": f"claimed by {who(self.claimed_by)}",
                  "resolved": f"resolved by {who(self.resolved_by)}"}.get(self.status,
                                                                          self.status)
        if self.verified_id is not None:
            status += f" · verified answer {self.verified_id}"
        return status

    def as_dict(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {"id": self.id, "platform": self.platform, "status": self.status,
                "question": self.question, "created_at": stamp(self.created_at),
                "user": self.user, "answer": self.answer, "message_id": self.message_id,
                "sources": [{"source": s.source, "title": s.title} for s in self.sources],
                "channel": self.channel, "thread": self.thread,
                "claimed_by": self.claimed_by or None, "claimed_at": stamp(self.claimed_at),
                "resolved_by": self.resolved_by or None, "resolved_at": stamp(self.resolved_at),
                "verified_id": self.verified_id}


@dataclass(frozen=True)
class ThreadMessage:
    """A message in the user's thread, as the platform reports it."""

    user: str
    text: str
    from_bot: bool = False


class SupportDesk(Protocol):
    """A platform's support channel (its adapter implements it by translating only)."""

    def post(self, handoff: HandoffView) -> str | None:
        """Post the hand-off (question, answer, sources, link, mention, buttons); the post's
        platform reference, or ``None`` when it could not be posted."""

    def update(self, handoff: HandoffView) -> None:
        """Show the hand-off's new status on its post (``handoff.support_ref``)."""

    def thread_messages(self, handoff: HandoffView) -> Sequence[ThreadMessage]:
        """The messages of the user's thread, oldest first."""


class HandoffStore(Protocol):
    def add_handoff(self, platform: str, user: str, message_id: int | None,
                    channel: str = "", thread: str = "") -> int: ...

    def handoff(self, handoff_id: int) -> HandoffView | None: ...

    def place_of(self, message_id: int) -> tuple[str, str] | None: ...

    def handoff_by_support_ref(self, platform: str, ref: str) -> HandoffView | None: ...

    def list_handoffs(self, status: str | None = None, limit: int = 200) -> list[HandoffView]: ...

    def unresolved_handoff(self, platform: str, channel: str,
                           thread: str) -> HandoffView | None: ...

    def set_support_ref(self, handoff_id: int, ref: str) -> None: ...

    def move_handoff(self, handoff_id: int, from_: tuple[str, ...], to: str, by: str,
                     verified_id: int | None = None) -> bool: ...

    def correct(self, message_id: int, answer: str | None, author: str) -> int: ...

    def retract_verified(self, verified_id: int) -> bool: ...

    def record_admin_action(self, platform: str, user: str, action: str, allowed: bool) -> None: ...


def human_answer(messages: Sequence[ThreadMessage], asker: str) -> str | None:
    """The latest message in the user's thread written by a person other than the bot and the
    user who asked (their "thanks!" is no answer), or ``None``."""
    for message in reversed(messages):
        if not message.from_bot and message.user != asker and message.text.strip():
            return message.text.strip()
    return None


class HandoffService:
    def __init__(self, store: HandoffStore) -> None:
        self.store = store
        self.desks: dict[str, SupportDesk] = {}  # platform → its support channel

    def attach(self, platform: str, desk: SupportDesk) -> None:
        """Post the platform's hand-offs to ``desk`` (an adapter calls this when configured)."""
        self.desks[platform] = desk

    # asking ----------------------------------------------------------------------------
    def request(self, platform: str, user: str, message_id: int | None, channel: str = "",
                thread: str = "") -> tuple[HandoffView, bool]:
        """Record a hand-off (where the user talks comes from the answer's conversation when
        not given) and post it to the support channel; ``(hand-off, False)`` when one is
        already open for that conversation (nothing new is recorded or posted)."""
        if not channel and message_id is not None:
            channel, thread = self.store.place_of(message_id) or ("", "")
        earlier = self.store.unresolved_handoff(platform, channel, thread) if channel else None
        if earlier is not None:
            return earlier, False
        view = self.get(self.store.add_handoff(platform, user, message_id, channel, thread))
        desk = self.desks.get(platform)
        if desk is not None:
            ref = _quietly(lambda: desk.post(view), "post a hand-off")
            if ref:
                self.store.set_support_ref(view.id, ref)
                view = self.get(view.id)
        return view, True

    def holds(self, msg: IncomingMessage) -> bool:
        """Whether the bot stays out of this message: a person of the team (anyone but the
        user who asked) talking in a thread with an unresolved hand-off, or anyone once the
        hand-off is claimed (a person is on it)."""
        if not msg.channel:
            return False
        open_ = self.store.unresolved_handoff(msg.platform, msg.channel, msg.thread)
        return open_ is not None and (open_.status == "claimed" or msg.user != open_.user)

    # reading ---------------------------------------------------------------------------
    def get(self, handoff_id: int) -> HandoffView:
        view = self.store.handoff(handoff_id)
        if view is None:
            raise InputError(f"there is no hand-off {handoff_id} — see `supportbot handoffs "
                             "list`")
        return view

    def by_support_ref(self, platform: str, ref: str) -> HandoffView | None:
        return self.store.handoff_by_support_ref(platform, ref)

    def list(self, status: str | None = None) -> list[HandoffView]:
        if status is not None and status not in STATUSES:
            raise InputError(f"unknown status {status!r} — use open, claimed or resolved")
        return self.store.list_handoffs(status)

    # changing --------------------------------------------------------------------------
    def claim(self, handoff_id: int, platform: str, user: str) -> HandoffView:
        """open → claimed by ``platform:user``."""
        by = f"{platform}:{user}"
        view = self.get(handoff_id)
        if view.status != "open" or not self.store.move_handoff(handoff_id, ("open",),
                                                                "claimed", by):
            raise InputError(_refusal(self.get(handoff_id), "claim", by))
        self.store.record_admin_action(platform, user, f"handoff claim {handoff_id}", True)
        return self._changed(handoff_id)

    def resolve(self, handoff_id: int, platform: str, user: str,
                answer: str | None = None) -> HandoffView:
        """open or claimed → resolved by ``platform:user``; with ``answer``, that text becomes
        the verified answer to the hand-off's question (in the same action)."""
        by = f"{platform}:{user}"
        view = self.get(handoff_id)
        if view.status == "resolved":
            raise InputError(_refusal(view, "resolve", by))
        verified_id = self._verify(view, answer, by) if answer is not None else None
        if not self.store.move_handoff(handoff_id, ("open", "claimed"), "resolved", by,
                                       verified_id):
            if verified_id is not None:
                self.store.retract_verified(verified_id)  # someone resolved it meanwhile
            raise InputError(_refusal(self.get(handoff_id), "resolve", by))
        self.store.record_admin_action(platform, user, f"handoff resolve {handoff_id}", True)
        if verified_id is not None:
            self.store.record_admin_action(platform, user, f"verify {verified_id}", True)
        return self._changed(handoff_id)

    def resolve_from_thread(self, handoff_id: int, platform: str, user: str) -> HandoffView:
        """"Resolve & verify": the latest answer a person of the team wrote in the user's
        thread becomes the verified answer, and the hand-off is resolved."""
        view = self.get(handoff_id)
        desk = self.desks.get(view.platform)
        if view.status == "resolved":
            raise InputError(_refusal(view, "resolve", f"{platform}:{user}"))
        messages = desk.thread_messages(view) if desk is not None and view.channel else ()
        answer = human_answer(messages, view.user)
        if answer is None:
            raise InputError("nobody from the team has answered in the user's thread yet — "
                             "answer there first, then Resolve & verify (or Resolve)")
        return self.resolve(handoff_id, platform, user, answer)

    def act(self, action: str, handoff_id: int, platform: str, user: str) -> str:
        """A button on the support channel's post (``claim``, ``resolve`` or ``verify`` =
        Resolve & verify) clicked by ``user``; one line for them saying what happened."""
        try:
            if action == "claim":
                self.claim(handoff_id, platform, user)
                return f"You claimed hand-off {handoff_id} — answer the user in their thread."
            if action == "resolve":
                self.resolve(handoff_id, platform, user)
                return f"Hand-off {handoff_id} is resolved."
            if action == "verify":
                view = self.resolve_from_thread(handoff_id, platform, user)
                return (f"Hand-off {handoff_id} is resolved, and your answer is verified answer "
                        f"{view.verified_id}: served from now on for this question.")
        except InputError as exc:
            return f"Not done: {exc}."
        return f"Unknown hand-off action {action!r}."

    def _verify(self, view: HandoffView, answer: str, by: str) -> int:
        if not view.answer or view.message_id is None:
            raise InputError(f"hand-off {view.id} has no answer of the bot to correct (the "
                             "user asked for a person straight away) — resolve it without "
                             "an answer")
        return self.store.correct(view.message_id, answer, by)

    def _changed(self, handoff_id: int) -> HandoffView:
        view = self.get(handoff_id)
        desk = self.desks.get(view.platform)
        if desk is not None and view.support_ref:
            _quietly(lambda: desk.update(view), "update a hand-off's post")
        return view


def _refusal(view: HandoffView, action: str, by: str) -> str:
    """Why ``action`` cannot happen to ``view`` now, in one line."""
    if view.status == "resolved":
        return f"hand-off {view.id} is already resolved (by {view.resolved_by or 'someone'})"
    if view.status == "claimed" and action == "claim":
        who = "you" if view.claimed_by == by else view.claimed_by
        return f"hand-off {view.id} is already claimed by {who} — resolve it when done"
    done = {"claim": "claimed", "resolve": "resolved"}.get(action, action)
    return f"hand-off {view.id} cannot be {done} now (it is {view.status})"


def _quietly(call: Any, what: str) -> Any:
    """A platform call that must not undo what is recorded: a failure is logged."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - the hand-off is recorded; the post is extra
        log.error("could not %s: %s", what, type(exc).__name__)
        return None
