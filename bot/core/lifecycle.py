"""The answer lifecycle, once for every platform: accept → show working → answer → finish → record.

An adapter turns a platform event into an ``IncomingMessage`` and a ``Surface`` (where this
question's reply appears) and calls ``Lifecycle.handle``; it never sequences the steps itself.

    accept   the router claims the event id (a repeat gets nothing) and checks the question;
             a refusal ("type a question", "too long", "rate-limited", "restarting") is posted
    working  the surface shows that an answer is coming (a placeholder, "typing…")
    answer   the router answers in the bounded pool; BUSY when the pool is full; the guarded
             text so far streams to the surface sentence by sentence
    finish   the surface shows the answer (or TOO_SLOW / FAILED in its place)
    record   the platform's reference of the posted answer is stored, so reactions find it
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.core.limits import AnswerPool
from bot.core.router import BUSY, TOO_SLOW, Router
from bot.core.types import IncomingMessage, Reply, Ticket

log = logging.getLogger(__name__)
FAILED = "Sorry, something went wrong while answering — please try again."


class Surface(Protocol):
    """Where one question's reply appears. Adapters implement it by translating only; calls
    come from the adapter's thread (``post``, ``working``) or the answer pool (the rest)."""

    def post(self, reply: Reply) -> None:
        """An immediate reply instead of an answer (a refusal)."""

    def working(self) -> None:
        """Show that an answer is on its way."""

    def update(self, text: str) -> None:
        """Show the answer so far (complete sentences that passed the guard); each call has
        the whole text, which may revise the last one. The surface throttles as its
        platform needs."""

    def finish(self, reply: Reply) -> str | None:
        """Show the answer; the platform's reference of the posted message, if any."""

    def fail(self, text: str) -> None:
        """Show ``text`` (busy, too slow, failed) where the answer would have gone."""


class Lifecycle:
    def __init__(self, router: Router, pool: AnswerPool) -> None:
        self.router, self.pool = router, pool

    def handle(self, msg: IncomingMessage, surface: Surface, claimed: bool = False) -> None:
        """Run one question's lifecycle; returns once the answer is queued (or refused)."""
        accepted = self.router.accept(msg, claimed)
        if isinstance(accepted, Reply):
            if not accepted.duplicate:
                surface.post(accepted)
            return
        surface.working()
        self.submit(accepted, surface)

    def submit(self, ticket: Ticket, surface: Surface) -> None:
        def failed(exc: BaseException) -> None:
            log.error("answer failed: %s", type(exc).__name__)
            surface.fail(FAILED)

        if not self.pool.submit(lambda: self.router.answer(ticket, surface.update),
                                on_done=lambda reply: self.finish(surface, reply),  # type: ignore[arg-type]
                                on_timeout=lambda: surface.fail(TOO_SLOW), on_error=failed):
            surface.fail(BUSY)

    def finish(self, surface: Surface, reply: Reply) -> None:
        ref = surface.finish(reply)
        if reply.message_id is not None and ref:
            self.router.mark_posted(reply.message_id, ref)
