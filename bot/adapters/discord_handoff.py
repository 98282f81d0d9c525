"""The support channel on Discord (``HANDOFF_DISCORD_CHANNEL``): the core's ``SupportDesk``.

A hand-off is posted there as one message — who asked, the question, the bot's answer, its
sources, a link to the user's thread and a mention of the team's role — with Claim, Resolve
and "Resolve & verify" buttons (a persistent view: fixed ``custom_id``s, so buttons on posts
made before a restart still work; the post is found by its message id). Every status change
edits the message. "Resolve & verify" reads the user's thread for the answer a person of the
team wrote there.

The core calls the desk from worker threads; each call runs on the client's event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import discord

from bot.adapters.render import source_lines
from bot.core.handoff import HandoffView, ThreadMessage

if TYPE_CHECKING:
    from bot.adapters.discord import SupportClient

CLAIM, RESOLVE = "supportbot:desk:claim", "supportbot:desk:resolve"
VERIFY = "supportbot:desk:verify"
MESSAGE_LIMIT = 2000
CALL_TIMEOUT = 30.0  # seconds a desk call may wait for Discord


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _who(by: str) -> str:
    platform, _, user = by.partition(":")
    return f"<@{user}>" if platform == "discord" and user.isdigit() else by


def desk_text(handoff: HandoffView, mention: str, link: str) -> str:
    """The support channel's message for ``handoff`` (at most 2,000 characters)."""
    status = handoff.status_line(_who)
    icon = "✅" if handoff.status == "resolved" else "🙋"
    lines = [f"{icon} {mention + ' ' if mention else ''}<@{handoff.user}> asked for a person — "
             f"hand-off {handoff.id} ({status})",
             f"**Question:** {_clip(discord.utils.escape_mentions(handoff.question), 500)}"]
    if handoff.answer:
        lines.append(f"**Answer:** {_clip(discord.utils.escape_mentions(handoff.answer), 900)}")
    sources = source_lines(handoff.sources, handoff.answer)
    if sources:
        lines.append("**Sources:** " + "; ".join(sources[:5]))
    if link:
        lines.append(f"**Conversation:** {link}")
    return _clip("\n".join(lines), MESSAGE_LIMIT)


class DeskButtons(discord.ui.View):
    """Claim (while open), Resolve and Resolve & verify under a hand-off's post."""

    def __init__(self, client: SupportClient, claim: bool = True) -> None:
        super().__init__(timeout=None)
        self.client = client
        if not claim:
            self.remove_item(self.claim)

    @discord.ui.button(label="Claim", style=discord.ButtonStyle.primary, custom_id=CLAIM)
    async def claim(self, interaction: discord.Interaction,
                    _button: discord.ui.Button[Any]) -> None:
        await self.client.desk_click(interaction, "claim")

    @discord.ui.button(label="Resolve", style=discord.ButtonStyle.secondary, custom_id=RESOLVE)
    async def resolve(self, interaction: discord.Interaction,
                      _button: discord.ui.Button[Any]) -> None:
        await self.client.desk_click(interaction, "resolve")

    @discord.ui.button(label="Resolve & verify", style=discord.ButtonStyle.success,
                       custom_id=VERIFY)
    async def verify(self, interaction: discord.Interaction,
                     _button: discord.ui.Button[Any]) -> None:
        await self.client.desk_click(interaction, "verify")


class DiscordDesk:
    def __init__(self, client: SupportClient, channel_id: str, role_id: str = "") -> None:
        self.client, self.channel_id = client, int(channel_id)
        self.mention = f"<@&{role_id}>" if role_id else ""
        self.buttons = DeskButtons(client)
        self.claimed_buttons = DeskButtons(client, claim=False)

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.client.loop).result(
            CALL_TIMEOUT)

    def post(self, handoff: HandoffView) -> str | None:
        channel = self.client.get_partial_messageable(self.channel_id)
        sent = self._run(channel.send(desk_text(handoff, self.mention, self._link(handoff)),
                                      view=self.buttons,
                                      allowed_mentions=discord.AllowedMentions(roles=True)))
        return str(sent.id)

    def update(self, handoff: HandoffView) -> None:
        message = self.client.get_partial_messageable(self.channel_id).get_partial_message(
            int(handoff.support_ref))
        view = {"open": self.buttons, "claimed": self.claimed_buttons}.get(handoff.status)
        self._run(message.edit(content=desk_text(handoff, self.mention, self._link(handoff)),
                               view=view))

    def thread_messages(self, handoff: HandoffView) -> list[ThreadMessage]:
        if not handoff.channel.isdigit():
            return []
        channel = self.client.get_partial_messageable(int(handoff.channel))

        async def read() -> list[discord.Message]:
            return [m async for m in channel.history(limit=100)]

        bot = self.client.bot_id
        return [ThreadMessage(str(m.author.id), m.content, m.author.bot or str(m.author.id) == bot)
                for m in reversed(self._run(read()))]  # history is newest first

    def _link(self, handoff: HandoffView) -> str:
        """A jump link to the user's thread (the guild is the support channel's; a DM has
        none anyone else could open)."""
        if not handoff.channel.isdigit():
            return ""
        talk = self.client.get_channel(int(handoff.channel))
        if isinstance(talk, discord.DMChannel):
            return ""
        desk = self.client.get_channel(self.channel_id)
        guild = getattr(talk, "guild", None) or getattr(desk, "guild", None)
        if guild is None:
            return ""
        answer = f"/{handoff.answer_ref}" if handoff.answer_ref.isdigit() else ""
        return f"https://discord.com/channels/{guild.id}/{handoff.channel}{answer}"
