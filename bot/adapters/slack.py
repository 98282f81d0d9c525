"""Slack through slack-bolt: Socket Mode (default) or HTTP (``POST /slack/events``).

Acknowledge first, answer later: bolt acknowledges every event at once (listeners run in its
executor), the question is stored and a placeholder posted in the thread, and the answer is
generated in the bounded ``AnswerPool`` and then written over the placeholder.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.adapters.slack_handoff import DESK_ACTIONS, SlackDesk, desk_click
from bot.adapters.slack_http import SlackEndpoint, slack_app
from bot.adapters.slack_payloads import (
    FEEDBACK_ACTION,
    HANDOFF_ACTION,
    PLATFORM,
    action_from_payload,
    admin_from_command,
    kb_correction,
    message_from_event,
    reaction_from_event,
    to_mrkdwn,
)
from bot.adapters.slack_surface import SlackSurface
from bot.core.lifecycle import FAILED, Lifecycle
from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import AdminCommand, IncomingMessage, ReactionEvent, Reply
from bot.web.server import AsgiServer
from knowledge.errors import ConfigError

log = logging.getLogger(__name__)


class _BoltNoise(logging.Filter):
    """bolt warns that the token is unused whenever SLACK_BOT_TOKEN is in the environment (we
    hand it a client instead), logs a multi-line hint for every request nobody listens to and
    a traceback when its middleware fails on an odd body: the first is dropped, the others cut
    to their first line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "will be unused" in message:
            return False
        if "\n" in message or record.exc_info:
            record.msg, record.args = message.splitlines()[0][:120], None
            record.exc_info = record.exc_text = None  # one line, never a traceback
        return True


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("bot.adapters.slack.bolt")
    if not any(isinstance(f, _BoltNoise) for f in logger.filters):
        logger.addFilter(_BoltNoise())
    return logger


def _never_raises(listener: Callable[..., None]) -> Callable[..., None]:
    """A listener that logs one line instead of raising: bolt would log a traceback, and an
    odd payload must never cost more than a line."""
    @functools.wraps(listener)
    def safe(*args: Any, **kwargs: Any) -> None:
        try:
            listener(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the boundary to the platform
            log.error("slack: %s failed on an event: %s", listener.__name__, type(exc).__name__)
    return safe


class SlackAdapter:
    """The Slack side of ``supportbot serve``: ``run`` blocks, ``close`` stops it."""

    def __init__(self, router: Router, pool: AnswerPool, *, bot_token: str, signing_secret: str,
                 app_token: str = "", mode: str = "socket", host: str = "0.0.0.0",
                 port: int = 3000, api_url: str = "https://slack.com/api/",
                 command: str = "/kb", streaming: bool = True,
                 prompts: tuple[str, ...] = (), listen: bool = True,
                 handoff_channel: str = "", handoff_mention: str = "") -> None:
        if mode == "socket" and not app_token:
            raise ConfigError("SLACK_MODE=socket needs SLACK_APP_TOKEN (xapp-…), or set "
                              "SLACK_MODE=http with SLACK_SIGNING_SECRET.")
        if mode == "http" and not signing_secret:
            raise ConfigError("SLACK_MODE=http needs SLACK_SIGNING_SECRET (Basic Information).")
        self.router, self.pool, self.mode, self.streaming = router, pool, mode, streaming
        self.prompts = prompts
        self.lifecycle = Lifecycle(router, pool)
        self.app_token, self.host, self.port = app_token, host, port
        client = WebClient(token=bot_token, base_url=api_url,
                           retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)])
        try:
            auth = client.auth_test()
            self.bot_user_id, self.team_id = str(auth["user_id"]), str(auth.get("team_id", ""))
        except SlackApiError as exc:
            raise ConfigError(f"Slack refused SLACK_BOT_TOKEN ({exc.response['error']}) — "
                              "copy the Bot User OAuth Token again.") from None
        except OSError as exc:  # URLError and socket errors: the API is unreachable
            raise ConfigError(f"Cannot reach the Slack API at {api_url} ({exc}) — check the "
                              "network or SLACK_API_URL.") from None
        self.signing_secret = signing_secret
        self.app = App(client=client, signing_secret=signing_secret or "socket-mode",
                       token_verification_enabled=False, logger=_bolt_logger(),
                       request_verification_enabled=mode == "http")
        self._register(command)
        if handoff_channel:  # hand-offs are posted there, with Claim / Resolve buttons
            router.handoffs.attach(PLATFORM, SlackDesk(client, handoff_channel, handoff_mention,
                                                       self.bot_user_id, self._safe))
        # HTTP mode: POST /slack/events; served here, or by the console's server (listen=False)
        self.endpoint = (SlackEndpoint(self.app.dispatch, signing_secret) if mode == "http"
                         else None)
        self.listen = listen
        self._server: AsgiServer | None = None
        self._socket: Any = None
        self._closed = threading.Event()

    def _register(self, command: str) -> None:
        on_message, on_reaction = _never_raises(self._on_message), _never_raises(self._on_reaction)
        self.app.event("app_mention")(on_message)
        self.app.event("message")(on_message)
        self.app.event("reaction_added")(on_reaction)
        self.app.event("reaction_removed")(on_reaction)
        self.app.event("assistant_thread_started")(_never_raises(self._on_thread_started))
        self.app.event("app_home_opened")(_never_raises(self._on_home_opened))
        self.app.event(re.compile(".*"))(_ignore)  # other event types: acknowledged, ignored
        self.app.command(command)(self._on_command)
        on_click = _never_raises(self._on_click)
        self.app.action(FEEDBACK_ACTION)(on_click)
        self.app.action(HANDOFF_ACTION)(on_click)
        on_desk = _never_raises(self._on_desk_click)
        for action in DESK_ACTIONS:
            self.app.action(action)(on_desk)

    # listeners (bolt has already acknowledged the event) -------------------------------
    def _on_message(self, event: Mapping[str, Any], client: WebClient) -> None:
        msg = message_from_event(event, self.bot_user_id,
                                 lambda c, t: self.router.knows_thread("slack", c, t))
        if msg is None:
            return
        correction = kb_correction(msg.text)
        if correction is not None:
            self._correct(msg, correction, client)
        else:
            self.lifecycle.handle(msg, SlackSurface(self, client, msg))

    def _correct(self, msg: IncomingMessage, text: str, client: WebClient) -> None:
        """``kb correct TEXT`` replied in an answer's thread (a slash command carries no
        thread): admins correct the answer, confirmed in the thread; others are told no."""
        if not self.router.claim(msg):
            return  # a repeated delivery
        done, reply = self.router.correct(AdminCommand(PLATFORM, msg.user, "correct",
                                                       channel=msg.channel, thread=msg.thread,
                                                       text=text))
        if done:
            self._safe(client.chat_postMessage, channel=msg.channel, text=reply,
                       thread_ts=msg.thread or None)
        else:
            self._safe(client.chat_postEphemeral, channel=msg.channel, user=msg.user,
                       text=reply, thread_ts=msg.thread or None)

    def _on_desk_click(self, ack: Any, body: Mapping[str, Any], client: WebClient) -> None:
        """Claim / Resolve / Resolve & verify on a hand-off in the support channel: the post
        is rewritten with the new status; the clicker is told the result."""
        ack()
        click = desk_click(body)
        if click is None:
            return
        action, handoff_id, user, channel = click
        text = self.router.handoffs.act(action, handoff_id, PLATFORM, user)
        self._safe(client.chat_postEphemeral, channel=channel, user=user, text=text)

    def _on_click(self, ack: Any, body: Mapping[str, Any], client: WebClient) -> None:
        """👍/👎 count like reactions (one vote per user per answer, the latest wins);
        "Talk to a human" is recorded and answered in the thread."""
        ack()
        click = action_from_payload(body)
        if click is None:
            return
        action, value, user, ref = click
        if action == FEEDBACK_ACTION:
            self.router.handle_reaction(ReactionEvent(PLATFORM, user, value, ref))
            return
        channel, ts = ref.split(":", 1)
        message = body.get("message")
        thread = message.get("thread_ts") if isinstance(message, Mapping) else None
        self._safe(client.chat_postMessage, channel=channel,
                   text=self.router.request_human(PLATFORM, user, ref),
                   thread_ts=thread if isinstance(thread, str) else ts)

    def _on_thread_started(self, event: Mapping[str, Any], client: WebClient) -> None:
        """A user opened a thread in the legacy assistant view: offer the suggested prompts."""
        thread = event.get("assistant_thread")
        if not (self.prompts and isinstance(thread, Mapping)):
            return
        channel, ts = thread.get("channel_id"), thread.get("thread_ts")
        if isinstance(channel, str) and isinstance(ts, str):
            self._suggest(client, channel, thread_ts=ts)

    def _on_home_opened(self, event: Mapping[str, Any], client: WebClient) -> None:
        """A user opened the app's Messages tab (the agent view): offer the suggested prompts.
        Agent apps set them without a thread_ts (with one, Slack drops the call silently)."""
        channel = event.get("channel")
        if self.prompts and event.get("tab") == "messages" and isinstance(channel, str):
            self._suggest(client, channel)

    def _suggest(self, client: WebClient, channel: str, **thread: str) -> None:
        self._safe(client.assistant_threads_setSuggestedPrompts, channel_id=channel, **thread,
                   title="Ask about our documentation",
                   prompts=[{"title": p[:75], "message": p} for p in self.prompts])

    def _on_reaction(self, event: Mapping[str, Any]) -> None:
        reaction = reaction_from_event(event, self.bot_user_id)
        if reaction is not None:
            self.router.handle_reaction(reaction)

    def _on_command(self, ack: Any, body: Mapping[str, Any], respond: Any) -> None:
        cmd = admin_from_command(body)
        try:
            text = self.router.handle_admin(cmd, notify=lambda text: respond(text))
        except Exception as exc:  # noqa: BLE001 - the command still gets its one reply
            log.error("slack: /kb %s failed: %s", cmd.action[:20], type(exc).__name__)
            text = FAILED
        ack(text)

    # sending -------------------------------------------------------------------------
    def send(self, client: WebClient, channel: str, reply: Reply, thread: str = "",
             blocks: list[dict[str, Any]] | None = None) -> str:
        """Post ``reply`` (split if long; ``blocks`` go with the first message); returns the
        first message's ts."""
        first = ""
        for part in to_mrkdwn(reply):
            response = self._safe(client.chat_postMessage, channel=channel, text=part,
                                  blocks=None if first else blocks, thread_ts=thread or None)
            first = first or str((response or {}).get("ts", ""))
        return first

    @staticmethod
    def _safe(call: Any, **kwargs: Any) -> Any:
        try:
            return call(**kwargs)
        except SlackApiError as exc:
            log.error("Slack %s failed: %s", getattr(call, "__name__", "call"),
                      exc.response.get("error"))
        except OSError as exc:  # the API unreachable: the answer is stored, the post is lost
            log.error("Slack %s failed: %s", getattr(call, "__name__", "call"),
                      type(exc).__name__)
        return None

    # lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        if self.endpoint is not None and not self.listen:
            log.warning("Slack: HTTP mode, served at /slack/events by the console's server")
            self._closed.wait()
        elif self.endpoint is not None:
            server = AsgiServer(slack_app(self.endpoint), self.host, self.port)
            server.bind()
            self.port, self._server = server.port, server
            log.warning("Slack: listening on http://%s:%d/slack/events", self.host, self.port)
            server.run()
        else:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            self._socket = SocketModeHandler(self.app, self.app_token)
            log.warning("Slack: connected in Socket Mode")
            self._socket.start()

    def close(self) -> None:
        self._closed.set()
        if self._server is not None:
            self._server.close()
        if self._socket is not None:
            self._socket.close()


def _ignore() -> None:
    """Event types supportbot does not use: bolt acknowledges them and nothing else runs."""
