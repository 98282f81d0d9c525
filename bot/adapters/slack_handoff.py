"""The support channel on Slack (``HANDOFF_SLACK_CHANNEL``): the core's ``SupportDesk``.

A hand-off is posted there as one message — who asked, the question, the bot's answer, its
sources, a link to the user's thread (``chat.getPermalink``) and a mention of the team's user
group — with Claim, Resolve and "Resolve & verify" buttons; every status change rewrites the
message (``chat.update``). "Resolve & verify" reads the user's thread
(``conversations.replies``) for the answer a person of the team wrote there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.adapters.render import source_lines
from bot.core.handoff import HandoffView, ThreadMessage
from knowledge.errors import InputError

log = logging.getLogger(__name__)
CLAIM, RESOLVE, VERIFY = "handoff_claim", "handoff_resolve", "handoff_verify"
DESK_ACTIONS = {CLAIM: "claim", RESOLVE: "resolve", VERIFY: "verify"}  # → the core's action
SECTION_LIMIT = 3000  # characters in a section block


def mention_of(group: str) -> str:
    """``HANDOFF_SLACK_MENTION`` (a user-group id) as Slack mrkdwn; "" for none."""
    group = group.strip()
    if not group:
        return ""
    return group if group.startswith("<") else f"<!subteam^{group}>"


def escape(text: str) -> str:
    """User text safe inside mrkdwn: no ``<!channel>`` or fake links slip through."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _who(by: str) -> str:
    platform, _, user = by.partition(":")
    return f"<@{user}>" if platform == "slack" and user else escape(by)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def desk_message(handoff: HandoffView, mention: str, link: str) -> tuple[str, list[Any]]:
    """The support channel's message for ``handoff``: fallback text and blocks."""
    status = handoff.status_line(_who)
    head = (f"{'✅' if handoff.status == 'resolved' else '🙋'} {mention + ' ' if mention else ''}"
            f"<@{handoff.user}> asked for a person — hand-off {handoff.id} ({status})")
    lines = [head, f"*Question:* {_clip(escape(handoff.question), 800)}"]
    if handoff.answer:
        lines.append(f"*Answer:* {_clip(escape(handoff.answer), 1500)}")
    sources = source_lines(handoff.sources, handoff.answer)
    if sources:
        lines.append("*Sources:* " + "; ".join(escape(s) for s in sources[:5]))
    if link:
        lines.append(f"<{link}|Open the conversation>")
    text = _clip("\n".join(lines), SECTION_LIMIT)
    blocks: list[Any] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    buttons = desk_buttons(handoff)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"handoff-{handoff.id}",
                       "elements": buttons})
    return text, blocks


def desk_buttons(handoff: HandoffView) -> list[dict[str, Any]]:
    """Claim (while open), Resolve and Resolve & verify (until resolved)."""
    if handoff.status == "resolved":
        return []
    shown = [(CLAIM, "Claim", "primary")] if handoff.status == "open" else []
    shown += [(RESOLVE, "Resolve", ""), (VERIFY, "Resolve & verify", "")]
    out = []
    for action, label, style in shown:
        button: dict[str, Any] = {"type": "button", "action_id": action, "value": str(handoff.id),
                                  "text": {"type": "plain_text", "text": label}}
        if style:
            button["style"] = style
        out.append(button)
    return out


def desk_click(body: Mapping[str, Any]) -> tuple[str, int, str, str] | None:
    """A click on a support-channel post → ``(core action, hand-off id, user, channel)``, or
    ``None`` for a shape no such click has."""
    actions, user, channel = body.get("actions"), body.get("user"), body.get("channel")
    if not (isinstance(actions, list) and actions and isinstance(actions[0], Mapping)
            and isinstance(user, Mapping) and isinstance(channel, Mapping)):
        return None
    action, value = actions[0].get("action_id"), actions[0].get("value")
    user_id, channel_id = user.get("id"), channel.get("id")
    if (action not in DESK_ACTIONS or not isinstance(value, str) or not value.isdigit()
            or not isinstance(user_id, str) or not isinstance(channel_id, str)
            or len(value) > 12):
        return None
    return DESK_ACTIONS[str(action)], int(value), user_id, channel_id


class SlackDesk:
    """Posts and updates hand-offs in ``channel``; ``safe`` calls the Web API, logging and
    returning ``None`` on failure (the adapter's ``_safe``)."""

    def __init__(self, client: WebClient, channel: str, mention: str, bot_user_id: str,
                 safe: Callable[..., Any]) -> None:
        self.client, self.channel, self.mention = client, channel, mention_of(mention)
        self.bot_user_id, self._safe = bot_user_id, safe

    def post(self, handoff: HandoffView) -> str | None:
        text, blocks = desk_message(handoff, self.mention, self._link(handoff))
        posted = self._safe(self.client.chat_postMessage, channel=self.channel, text=text,
                            blocks=blocks, unfurl_links=False)
        ts = (posted or {}).get("ts")
        return f"{self.channel}:{ts}" if isinstance(ts, str) else None

    def update(self, handoff: HandoffView) -> None:
        channel, _, ts = handoff.support_ref.partition(":")
        text, blocks = desk_message(handoff, self.mention, self._link(handoff))
        self._safe(self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks)

    def thread_messages(self, handoff: HandoffView) -> list[ThreadMessage]:
        ts = _thread_ts(handoff)
        if not ts:
            return []
        try:
            found = self.client.conversations_replies(channel=handoff.channel, ts=ts, limit=200)
        except SlackApiError as exc:
            raise InputError(f"Slack would not let me read the user's thread "
                             f"({exc.response.get('error')}) — check the bot is in that "
                             "channel") from None
        messages = found.get("messages") or []
        return [ThreadMessage(str(m.get("user", "")), str(m.get("text", "")),
                              bool(m.get("bot_id")) or m.get("user") == self.bot_user_id)
                for m in messages if isinstance(m, Mapping)]

    def _link(self, handoff: HandoffView) -> str:
        ts = _thread_ts(handoff)
        if not (handoff.channel and ts):
            return ""
        found = self._safe(self.client.chat_getPermalink, channel=handoff.channel,
                           message_ts=ts)
        link = (found or {}).get("permalink")
        return link if isinstance(link, str) else ""


def _thread_ts(handoff: HandoffView) -> str:
    """The user's thread, or (a DM without threads) the answer's own message."""
    if handoff.thread:
        return handoff.thread
    _, _, ts = handoff.answer_ref.partition(":")
    return ts
