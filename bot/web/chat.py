"""The console's chat: one question's lifecycle as server-sent events.

``WebSurface`` implements the core ``Surface`` port by translating only: each lifecycle step
becomes an event on a queue that ``events`` turns into ``text/event-stream`` lines.

    working  {}                                 the answer is on its way
    update   {"text": …}                        the guarded answer so far
    finish   {"text", "sources", "ref"}         the answer; ``ref`` for votes and hand-offs
    notice   {"text": …}                        a refusal, busy, too slow or failed
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from bot.core.types import Reply

DONE = object()
PLATFORM = "web"


class WebSurface:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def _put(self, event: str, data: dict[str, Any], last: bool = False) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (event, data))
        if last:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, DONE)

    def post(self, reply: Reply) -> None:
        self._put("notice", {"text": reply.text}, last=True)

    def working(self) -> None:
        self._put("working", {})

    def update(self, text: str) -> None:
        self._put("update", {"text": text})

    def finish(self, reply: Reply) -> str | None:
        ref = f"{PLATFORM}-{reply.message_id}" if reply.message_id is not None else None
        sources = [{"n": n, "title": s.title, "source": s.source, "text": s.text}
                   for n, s in enumerate(reply.sources, 1)]
        self._put("finish", {"text": reply.text, "sources": sources, "ref": ref}, last=True)
        return ref

    def fail(self, text: str) -> None:
        self._put("notice", {"text": text}, last=True)

    async def events(self, timeout: float) -> AsyncIterator[str]:
        """The event stream; ends after the last event, or with a notice after ``timeout``."""
        while True:
            try:
                item = await asyncio.wait_for(self.queue.get(), timeout)
            except TimeoutError:
                yield _sse("notice", {"text": "No answer came in time — please try again."})
                return
            if item is DONE:
                return
            yield _sse(*item)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"
