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
    words = _text(body.get("text")).split(maxsplit=1)
    return AdminCommand(PLATFORM, _text(body.get("user_id")),
                        words[0].lower() if words else "status",
                        channel=_text(body.get("channel_id")),
                        text=words[1].strip() if len(words) > 1 else "")


_CORRECT = re.compile(r"^/?kb\s+correct(?:\s+|$)", re.IGNORECASE)


def kb_correction(text: str) -> str | None:
    """The corrected answer in a ``kb correct TEXT`` (or ``/kb correct TEXT``) message, ""
    when no text follows; ``None`` for any other message."""
    found = _CORRECT.match(text.strip())
    return text.strip()[found.end():].strip() if found else None


def to_mrkdwn(reply: Reply) -> list[str]:
    """The reply as Slack mrkdwn messages: text, then the cited sources."""
    bold = Reply(re.sub(r"\*\*(.+?)\*\*", r"*\1*", reply.text), reply.sources)
    return split_message(with_sources(bold, "*Sources*"), MESSAGE_LIMIT)


FEEDBACK_ACTION, HANDOFF_ACTION = "feedback", "handoff"
_VOTES = {"+1", "-1"}


def answer_blocks(text: str) -> list[dict[str, Any]]:
    """An answer's message: its text, then ``answer_buttons``."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, *answer_buttons()]


def answer_buttons() -> list[dict[str, Any]]:
    """👍/👎 feedback buttons and a "Talk to a human" button."""
    from slack_sdk.models.blocks import (
        ActionsBlock,
        ButtonElement,
        ContextActionsBlock,
        FeedbackButtonObject,
        FeedbackButtonsElement,
    )

    votes = FeedbackButtonsElement(
        action_id=FEEDBACK_ACTION,
        positive_button=FeedbackButtonObject(text="👍", value="+1",
                                             accessibility_label="This answer helped"),
        negative_button=FeedbackButtonObject(text="👎", value="-1",
                                             accessibility_label="This answer did not help"))
    human = ButtonElement(text="Talk to a human", action_id=HANDOFF_ACTION, value="handoff")
    blocks = [ContextActionsBlock(elements=[votes]), ActionsBlock(elements=[human])]
    return [block.to_dict() for block in blocks]


def action_from_payload(body: Mapping[str, Any]) -> tuple[str, str, str, str] | None:
    """A click on an answer's buttons → ``(action_id, value, user, message_ref)``, or ``None``
    for a shape no such click has."""
    actions, user = body.get("actions"), body.get("user")
    container, channel = body.get("container"), body.get("channel")
    if not (isinstance(actions, list) and actions and isinstance(actions[0], Mapping)
            and isinstance(user, Mapping) and isinstance(container, Mapping)):
        return None
    channel_id = _text(container.get("channel_id")) or (
        _text(channel.get("id")) if isinstance(channel, Mapping) else "")
    ts, user_id = _text(container.get("message_ts")), _text(user.get("id"))
    action, value = _text(actions[0].get("action_id")), _text(actions[0].get("value"))
    if not (channel_id and ts and user_id) or action not in (FEEDBACK_ACTION, HANDOFF_ACTION):
        return None
    if action == FEEDBACK_ACTION and value not in _VOTES:
        return None
    return action, value, user_id, f"{channel_id}:{ts}"
