"""Slack payloads → domain types, and replies → Slack mrkdwn. Pure functions only.

Exactly-once answering keys a question by the Slack message itself (``slack:<channel>:<ts>``):
the same message arrives as ``app_mention`` and ``message`` events, and again on every retry,
always with that key, so the database's UNIQUE constraint lets only the first one through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from bot.adapters.render import split_message, with_sources
from bot.core.types import AdminCommand, IncomingMessage, ReactionEvent, Reply

PLATFORM = "slack"
MESSAGE_LIMIT = 3000  # Slack truncates long texts; a section block holds 3,000 characters
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def dedupe_key(event: Mapping[str, Any]) -> str:
    return f"slack:{event.get('channel', '')}:{event.get('ts', '')}"


def _text(value: object) -> str:
    """A payload field that should be a string: itself, or "" for any other shape."""
    return value if isinstance(value, str) else ""


def _is_from_a_bot(event: Mapping[str, Any], bot_user_id: str) -> bool:
    return bool(event.get("bot_id") or event.get("subtype")) or event.get("user") == bot_user_id


def message_from_event(event: Mapping[str, Any], bot_user_id: str,
                       known_thread: Callable[[str, str], bool]) -> IncomingMessage | None:
    """The question in an ``app_mention`` or ``message`` event, or ``None`` to ignore it.

    - a mention in a channel: answered in a thread under it;
    - a DM: answered in the DM (in its thread if it was sent in one);
    - a thread reply without a mention: answered only where the bot already talks.
    """
    user, channel, ts = (_text(event.get(k)) for k in ("user", "channel", "ts"))
    if _is_from_a_bot(event, bot_user_id) or not (user and channel and ts):
        return None  # odd shapes (a non-string user, no ts) are ignored, never raised on
    thread, raw = _text(event.get("thread_ts")), _text(event.get("text"))
    mentioned = f"<@{bot_user_id}>" in raw
    if event.get("type") == "app_mention":
        thread = thread or ts
    elif event.get("channel_type") == "im":
        pass
    elif mentioned or not thread or not known_thread(channel, thread):
        return None  # mentions arrive as app_mention; other channel talk is not for us
    text = _MENTION.sub("", raw).strip()
    return IncomingMessage(PLATFORM, channel, user, text, thread, dedupe_key(event))


def reaction_from_event(event: Mapping[str, Any], bot_user_id: str) -> ReactionEvent | None:
    """A reaction on one of the bot's messages, or ``None``."""
    item = event.get("item")
    if (not isinstance(item, Mapping) or item.get("type") != "message"
            or event.get("item_user") != bot_user_id):
        return None
    user, reaction = _text(event.get("user")), _text(event.get("reaction")).split("::")[0]
    channel, ts = _text(item.get("channel")), _text(item.get("ts"))
    if not (user and reaction and channel and ts):
        return None
    return ReactionEvent(PLATFORM, user, reaction, f"{channel}:{ts}",
                         event.get("type") == "reaction_added")


def admin_from_command(body: Mapping[str, Any]) -> AdminCommand:
    """``/kb refresh`` → ``AdminCommand(action="refresh")``; no argument means ``status``."""
    words = _text(body.get("text")).split()
    return AdminCommand(PLATFORM, _text(body.get("user_id")),
                        words[0].lower() if words else "status",
                        channel=_text(body.get("channel_id")))


def to_mrkdwn(reply: Reply) -> list[str]:
    """The reply as Slack mrkdwn messages: text, then the cited sources."""
    bold = Reply(re.sub(r"\*\*(.+?)\*\*", r"*\1*", reply.text), reply.sources)
    return split_message(with_sources(bold, "*Sources*"), MESSAGE_LIMIT)
