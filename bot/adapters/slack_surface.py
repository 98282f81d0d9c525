"""One question's reply in Slack (the lifecycle's ``Surface``), translated to Web API calls.

Working: in an assistant thread (the app's agent view) ``assistant.threads.setStatus`` shows
rotating loading messages; elsewhere a "_Looking that up…_" placeholder is posted. Streaming:
in a thread, the answer streams with ``chat.startStream`` / ``appendStream`` / ``stopStream``
(the placeholder is removed once the stream starts); where Slack refuses streaming (plan,
scope, older workspace, a DM without a thread) the placeholder is edited with ``chat.update``
instead, at most once a second. Finish: the final text, its sources, 👍/👎 feedback buttons
and "Talk to a human" — the same text the store records.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.adapters.slack_payloads import answer_blocks, answer_buttons, to_mrkdwn
from bot.core.types import IncomingMessage, Reply

if TYPE_CHECKING:
    from bot.adapters.slack import SlackAdapter

log = logging.getLogger(__name__)
WORKING = "_Looking that up…_"
LOADING = ["Reading the documentation…", "Looking for the right page…", "Checking the details…"]
UPDATE_EVERY = 1.0  # seconds between chat.update edits (Slack: about 1 per second per message)
APPEND_EVERY = 0.5  # seconds between chat.appendStream calls


class SlackSurface:
    def __init__(self, adapter: SlackAdapter, client: WebClient, msg: IncomingMessage) -> None:
        self.adapter, self.client, self.msg = adapter, client, msg
        self.channel, self.thread = msg.channel, msg.thread
        self.placeholder: str | None = None  # a "Looking that up…" message, edited in place
        self.stream: str | None = None  # ts of the streaming message
        self.can_stream = adapter.streaming and bool(msg.thread)
        self.shown = ""  # the text the stream holds so far
        self._last = 0.0

    def _call(self, method: Any, **kwargs: Any) -> Any:
        return self.adapter._safe(method, **kwargs)

    # Surface ---------------------------------------------------------------------------
    def post(self, reply: Reply) -> None:
        self.adapter.send(self.client, self.channel, reply, self.thread)

    def working(self) -> None:
        if self.thread and self._status("is looking that up…"):
            return  # the assistant thread shows it; no placeholder message
        posted = self._call(self.client.chat_postMessage, channel=self.channel, text=WORKING,
                            thread_ts=self.thread or None)
        ts = (posted or {}).get("ts")
        self.placeholder = ts if isinstance(ts, str) else None

    def update(self, text: str) -> None:
        now = time.monotonic()
        if self.can_stream and (self.stream is None or text.startswith(self.shown)):
            if now - self._last < APPEND_EVERY:
                return
            if self._stream(text):
                self._last = now
                return
        if self.stream is None and self.placeholder is not None and \
                now - self._last >= UPDATE_EVERY:
            self._last = now
            self._call(self.client.chat_update, channel=self.channel, ts=self.placeholder,
                       text=f"{to_mrkdwn(Reply(text))[0]} …")

    def finish(self, reply: Reply) -> str | None:
        parts = to_mrkdwn(reply)
        blocks = answer_blocks(parts[0]) if reply.message_id is not None else None
        if self.stream is None and self.placeholder is None:  # nothing on screen yet
            first = self.adapter.send(self.client, self.channel, reply, self.thread, blocks)
            return f"{self.channel}:{first}" if first else None
        if self.stream is not None:
            ts = self._finish_stream(parts[0], blocks, reply.message_id is not None)
        else:
            self._call(self.client.chat_update, channel=self.channel, ts=self.placeholder,
                       text=parts[0], blocks=blocks)
            ts = self.placeholder
        for part in parts[1:]:
            self._call(self.client.chat_postMessage, channel=self.channel, text=part,
                       thread_ts=self.thread or None)
        return f"{self.channel}:{ts}" if ts else None

    def fail(self, text: str) -> None:
        if self.stream is not None:
            self._call(self.client.chat_stopStream, channel=self.channel, ts=self.stream)
            self._call(self.client.chat_update, channel=self.channel, ts=self.stream, text=text)
        elif self.placeholder is not None:
            self._call(self.client.chat_update, channel=self.channel, ts=self.placeholder,
                       text=text)
        else:
            self.post(Reply(text, thread=self.thread))

    # Slack's AI-app calls ------------------------------------------------------------------
    def _status(self, status: str) -> bool:
        """``assistant.threads.setStatus``; ``False`` outside an assistant thread."""
        try:
            self.client.assistant_threads_setStatus(channel_id=self.channel,
                                                    thread_ts=self.thread, status=status,
                                                    loading_messages=LOADING)
            return True
        except (SlackApiError, OSError):
            return False  # not an assistant thread (or no assistant:write): use a placeholder

    def _stream(self, text: str) -> bool:
        """Start the stream with ``text``, or append what ``text`` adds; ``False`` when Slack
        refuses streaming (then chat.update takes over for this answer)."""
        try:
            if self.stream is None:
                started = self.client.chat_startStream(
                    channel=self.channel, thread_ts=self.thread, markdown_text=text,
                    recipient_user_id=self.msg.user,
                    recipient_team_id=self.adapter.team_id or None)
                self.stream = str(started["ts"])
                if self.placeholder is not None:
                    self._call(self.client.chat_delete, channel=self.channel,
                               ts=self.placeholder)
                    self.placeholder = None
            elif text != self.shown:
                self.client.chat_appendStream(channel=self.channel, ts=self.stream,
                                              markdown_text=text[len(self.shown):])
        except (SlackApiError, OSError, KeyError) as exc:
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.info("slack: streaming unavailable here (%s); editing instead", reason)
            self.can_stream = False
            return self.stream is not None
        self.shown = text
        return True

    def _finish_stream(self, text: str, blocks: list[dict[str, Any]] | None,
                       buttons: bool) -> str | None:
        """Stop the stream with the rest of the answer and the buttons; when the final text is
        not the streamed text continued, the message is rewritten with it."""
        assert self.stream is not None
        rest = text[len(self.shown):] if text.startswith(self.shown) else None
        self._call(self.client.chat_stopStream, channel=self.channel, ts=self.stream,
                   markdown_text=rest or None,
                   blocks=answer_buttons() if rest is not None and buttons else None)
        if rest is None:
            self._call(self.client.chat_update, channel=self.channel, ts=self.stream, text=text,
                       blocks=blocks)
        return self.stream
