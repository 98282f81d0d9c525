"""Discord gateway data → domain types, and replies → Discord markdown. Pure functions only.

Conversations are keyed by the channel the talk happens in: a DM channel, or the thread the
bot opened under a mention. A message in a known thread needs no mention.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.adapters.render import split_message, with_sources
from bot.core.types import IncomingMessage, ReactionEvent, Reply

PLATFORM = "discord"
MESSAGE_LIMIT = 2000
_MENTION = re.compile(r"<@!?\d+>")


@dataclass(frozen=True)
class MessageView:
    """The fields of a MESSAGE_CREATE that matter, from a payload or a ``discord.Message``."""

    id: str
    channel_id: str
    guild_id: str | None
    author_id: str
    author_is_bot: bool
    content: str
    mention_ids: tuple[str, ...]


def _snowflake(value: object) -> str:
    """A Discord id (a decimal string, or an int) as text; "" for any other shape."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value.isascii() and value.isdigit() else ""


def view_from_payload(data: Mapping[str, Any]) -> MessageView | None:
    """A MESSAGE_CREATE payload's fields, or ``None`` for a shape no message has."""
    author, mentions = data.get("author"), data.get("mentions")
    author = author if isinstance(author, Mapping) else {}
    mentions = mentions if isinstance(mentions, list) else []
    content = data.get("content")
    message_id, channel_id = _snowflake(data.get("id")), _snowflake(data.get("channel_id"))
    if not message_id or not channel_id:
        return None
    return MessageView(
        id=message_id, channel_id=channel_id,
        guild_id=_snowflake(data.get("guild_id")) or None,
        author_id=_snowflake(author.get("id")), author_is_bot=author.get("bot") is True,
        content=content if isinstance(content, str) else "",
        mention_ids=tuple(_snowflake(m.get("id")) for m in mentions if isinstance(m, Mapping)),
    )


def message_from_view(view: MessageView, bot_user_id: str,
                      known_channel: Callable[[str], bool]) -> IncomingMessage | None:
    """The question in a message, or ``None`` when it is not addressed to the bot."""
    if view.author_is_bot or not view.author_id or view.author_id == bot_user_id:
        return None
    is_dm = view.guild_id is None
    if not (is_dm or bot_user_id in view.mention_ids or known_channel(view.channel_id)):
        return None
    text = _MENTION.sub("", view.content).strip()
    return IncomingMessage(PLATFORM, view.channel_id, view.author_id, text,
                           event_id=f"discord:{view.id}")


def needs_thread(view: MessageView, bot_user_id: str, known_channel: Callable[[str], bool]) -> bool:
    """A mention in a guild channel the bot does not talk in yet gets a thread of its own."""
    return (view.guild_id is not None and bot_user_id in view.mention_ids
            and not known_channel(view.channel_id))


def reaction_from_payload(data: Mapping[str, Any], added: bool,
                          bot_user_id: str) -> ReactionEvent | None:
    """A MESSAGE_REACTION_ADD/REMOVE payload → ``ReactionEvent`` (the bot's own are ignored)."""
    user, message = _snowflake(data.get("user_id")), _snowflake(data.get("message_id"))
    emoji = data.get("emoji")
    name = emoji.get("name") if isinstance(emoji, Mapping) else None
    if not user or user == bot_user_id or not message or not isinstance(name, str) or not name:
        return None
    return ReactionEvent(PLATFORM, user, name, message, added)


def to_markdown(reply: Reply) -> list[str]:
    """The reply as Discord messages (≤ 2,000 characters each): text, then cited sources."""
    return split_message(with_sources(reply, "**Sources**"), MESSAGE_LIMIT)
