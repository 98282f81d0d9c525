"""Discord through discord.py: DMs, mentions (answered in a thread), ``/kb``, reactions.

Needs the privileged **Message Content** intent (Developer Portal → Bot → Privileged Gateway
Intents); without it Discord closes the gateway with 4014 and we exit saying so. Generation
runs in the shared ``AnswerPool``; the event loop only awaits it, so the gateway heartbeat
never stalls behind a slow answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import sys
import time
from typing import Any

import discord
from discord import app_commands

from bot.adapters.discord_handoff import DiscordDesk
from bot.adapters.discord_payloads import (
    MessageView,
    message_from_view,
    needs_thread,
    reaction_from_payload,
    to_markdown,
)
from bot.core.lifecycle import Lifecycle
from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import AdminCommand, ReactionEvent, Reply
from knowledge.errors import ConfigError

log = logging.getLogger(__name__)
TYPING_EVERY = 8.0  # seconds: Discord shows "typing…" for about 10 s per trigger
EDIT_EVERY = 1.2  # seconds between edits of a streaming answer


def intents() -> discord.Intents:
    wanted = discord.Intents.default()
    wanted.message_content = True  # privileged: enable it in the Developer Portal
    return wanted


def view_of(message: discord.Message) -> MessageView:
    return MessageView(
        id=str(message.id), channel_id=str(message.channel.id),
        guild_id=str(message.guild.id) if message.guild else None,
        author_id=str(message.author.id), author_is_bot=message.author.bot,
        content=message.content, mention_ids=tuple(str(u.id) for u in message.mentions),
    )


VOTE_UP, VOTE_DOWN, HANDOFF = "supportbot:vote:+1", "supportbot:vote:-1", "supportbot:handoff"


class AnswerButtons(discord.ui.View):
    """👍/👎 and "Talk to a human" under every answer. Persistent (fixed ``custom_id``s, no
    timeout, registered at start-up), so buttons on answers posted before a restart work."""

    def __init__(self, client: SupportClient) -> None:
        super().__init__(timeout=None)
        self.client = client

    @discord.ui.button(emoji="👍", style=discord.ButtonStyle.secondary, custom_id=VOTE_UP)
    async def up(self, interaction: discord.Interaction, _button: discord.ui.Button[Any]) -> None:
        await self.client.vote(interaction, "+1")

    @discord.ui.button(emoji="👎", style=discord.ButtonStyle.secondary, custom_id=VOTE_DOWN)
    async def down(self, interaction: discord.Interaction,
                   _button: discord.ui.Button[Any]) -> None:
        await self.client.vote(interaction, "-1")

    @discord.ui.button(label="Talk to a human", style=discord.ButtonStyle.primary,
                       custom_id=HANDOFF)
    async def human(self, interaction: discord.Interaction,
                    _button: discord.ui.Button[Any]) -> None:
        await self.client.handoff(interaction)


class SupportClient(discord.Client):
    """The bot: dependencies come in through the constructor (nothing global)."""

    def __init__(self, router: Router, pool: AnswerPool, handoff_channel: str = "",
                 handoff_mention: str = "", **options: Any) -> None:
        super().__init__(intents=intents(), **options)
        self.router, self.pool = router, pool
        self.lifecycle = Lifecycle(router, pool)
        self.buttons = AnswerButtons(self)
        self.desk = DiscordDesk(self, handoff_channel, handoff_mention) if handoff_channel \
            else None
        if self.desk is not None:  # hand-offs are posted there, with Claim / Resolve buttons
            router.handoffs.attach("discord", self.desk)
        self.handler_errors = 0  # events whose handler raised (bench_fuzz counts them)
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(self._kb_group())
        self.tree.on_error = self._on_command_error  # type: ignore[method-assign]

    @property
    def bot_id(self) -> str:
        return str(self.user.id) if self.user else ""

    async def setup_hook(self) -> None:
        self.add_view(self.buttons)  # persistent: clicks on earlier answers still arrive
        if self.desk is not None:
            self.add_view(self.desk.buttons)
        await self.tree.sync()

    async def vote(self, interaction: discord.Interaction, reaction: str) -> None:
        """A 👍/👎 click counts like the reaction (one vote per user per answer)."""
        ref = str(interaction.message.id) if interaction.message else ""
        event = ReactionEvent("discord", str(interaction.user.id), reaction, ref)
        counted = await asyncio.to_thread(self.router.handle_reaction, event)
        await interaction.response.send_message(
            "Thanks — feedback recorded." if counted else "That answer can't be rated any more.",
            ephemeral=True)

    async def handoff(self, interaction: discord.Interaction) -> None:
        """"Talk to a human": recorded and posted to the support channel (deferred first:
        that post may take longer than an interaction's 3 seconds)."""
        await interaction.response.defer(thinking=True)
        ref = str(interaction.message.id) if interaction.message else ""
        text = await asyncio.to_thread(self.router.request_human, "discord",
                                       str(interaction.user.id), ref)
        await interaction.followup.send(text)

    async def desk_click(self, interaction: discord.Interaction, action: str) -> None:
        """Claim / Resolve / Resolve & verify on a hand-off's post in the support channel."""
        ref = str(interaction.message.id) if interaction.message else ""
        user = str(interaction.user.id)

        def act() -> str:
            found = self.router.handoffs.by_support_ref("discord", ref)
            if found is None:
                return "That post is no hand-off I know of any more."
            return self.router.handoffs.act(action, found.id, "discord", user)

        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(await asyncio.to_thread(act), ephemeral=True)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """One line instead of discord.py's traceback: an odd event never floods the log."""
        error = sys.exc_info()[1]
        self.handler_errors += 1
        log.error("discord: %s failed: %s", event_method[:40], type(error).__name__)

    def _known(self, channel_id: str) -> bool:
        return self.router.knows_thread("discord", channel_id, "")

    # messages ---------------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        view = view_of(message)
        known = await asyncio.to_thread(self._known, view.channel_id)
        msg = message_from_view(view, self.bot_id, lambda _c: known)
        if msg is None or not await asyncio.to_thread(self.router.claim, msg):
            return  # not for us, or a repeated delivery (no second thread, no second reply)
        target: discord.abc.Messageable = message.channel
        if needs_thread(view, self.bot_id, lambda _c: known):
            try:
                thread = await message.create_thread(name=(msg.text or "Question")[:90])
                target, msg = thread, dataclasses.replace(msg, channel=str(thread.id))
            except discord.HTTPException as exc:
                log.warning("could not open a thread (%s); replying in the channel", exc.status)
        surface = DiscordSurface(self, target, asyncio.get_running_loop())
        await asyncio.to_thread(self.lifecycle.handle, msg, surface, True)

    async def send(self, target: discord.abc.Messageable, reply: Reply) -> list[discord.Message]:
        """The reply as messages; an answer's first one carries the buttons."""
        parts = to_markdown(reply)
        sent = [await target.send(parts[0], view=self._view_for(reply))]
        return sent + [await target.send(part) for part in parts[1:]]

    def _view_for(self, reply: Reply) -> Any:
        """The buttons for an answer; ``MISSING`` (none) for a refusal or an error."""
        return self.buttons if reply.message_id is not None else discord.utils.MISSING

    # reactions ----------------------------------------------------------------------------
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, False)

    async def _reaction(self, payload: discord.RawReactionActionEvent, added: bool) -> None:
        data = {"user_id": payload.user_id, "message_id": payload.message_id,
                "emoji": {"name": payload.emoji.name}}
        event = reaction_from_payload(data, added, self.bot_id)
        if event is not None:
            await asyncio.to_thread(self.router.handle_reaction, event)

    # /kb ----------------------------------------------------------------------------------
    def _kb_group(self) -> app_commands.Group:
        group = app_commands.Group(name="kb", description="Knowledge base administration")

        @group.command(name="refresh", description="Re-scan the knowledge sources (admins)")
        async def refresh(interaction: discord.Interaction) -> None:
            await self.admin(interaction, "refresh")

        @group.command(name="train", description="Train and gate a new adapter (admins)")
        async def train(interaction: discord.Interaction) -> None:
            await self.admin(interaction, "train")

        @group.command(name="status", description="Show the knowledge base status")
        async def status(interaction: discord.Interaction) -> None:
            await self.admin(interaction, "status")

        @group.command(name="correct",
                       description="Correct my latest answer in this thread (admins)")
        @app_commands.describe(text="The correct answer")
        async def correct(interaction: discord.Interaction, text: str) -> None:
            await self.correct(interaction, text)

        return group

    async def _on_command_error(self, interaction: discord.Interaction,
                                error: app_commands.AppCommandError) -> None:
        self.handler_errors += 1
        log.error("discord: /kb failed: %s", type(error).__name__)

    @staticmethod
    def _command(interaction: discord.Interaction, action: str, text: str = "") -> AdminCommand:
        roles = tuple(str(r.name) for r in getattr(interaction.user, "roles", ()))
        roles += tuple(str(r.id) for r in getattr(interaction.user, "roles", ()))
        return AdminCommand("discord", str(interaction.user.id), action, roles,
                            str(interaction.channel_id or ""), text=text)

    async def correct(self, interaction: discord.Interaction, text: str) -> None:
        """``/kb correct TEXT`` inside an answer's thread: the confirmation shows in the
        thread; a refusal only to the one who asked."""
        done, reply = await asyncio.to_thread(self.router.correct,
                                              self._command(interaction, "correct", text))
        await interaction.response.send_message(reply, ephemeral=not done)

    async def admin(self, interaction: discord.Interaction, action: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        cmd = self._command(interaction, action)
        loop = asyncio.get_running_loop()

        def notify(text: str) -> None:
            asyncio.run_coroutine_threadsafe(interaction.followup.send(text), loop)

        text = await asyncio.to_thread(self.router.handle_admin, cmd, notify)
        await interaction.followup.send(text, ephemeral=True)


class DiscordSurface:
    """One question's reply in Discord: "typing…" while answering, then the message(s).

    The lifecycle calls it from worker threads; each call runs on the client's event loop."""

    def __init__(self, client: SupportClient, target: discord.abc.Messageable,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.target, self.loop = client, target, loop
        self._typing: concurrent.futures.Future[None] | None = None
        self._message: discord.Message | None = None  # the answer so far, edited as it grows
        self._last_edit = 0.0

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def post(self, reply: Reply) -> None:
        self._run(self.client.send(self.target, reply))

    def working(self) -> None:
        self._typing = asyncio.run_coroutine_threadsafe(self._keep_typing(), self.loop)

    async def _keep_typing(self) -> None:
        try:
            while True:
                await self.target.typing()  # a failure to show it never loses the answer
                await asyncio.sleep(TYPING_EVERY)
        except discord.HTTPException:
            return

    def _stop_typing(self) -> None:
        if self._typing is not None:
            self._typing.cancel()

    def update(self, text: str) -> None:
        """The answer so far as one message, edited at most every ``EDIT_EVERY`` seconds
        (Discord allows 5 edits per 5 seconds per channel)."""
        now = time.monotonic()
        if now - self._last_edit < EDIT_EVERY:
            return
        self._last_edit = now
        shown = to_markdown(Reply(text))[0] + " …"
        try:
            if self._message is None:
                self._stop_typing()
                self._message = self._run(self.target.send(shown))
            else:
                self._run(self._message.edit(content=shown))
        except discord.HTTPException as exc:
            log.warning("discord: could not show the answer so far (%s)", exc.status)

    def finish(self, reply: Reply) -> str | None:
        self._stop_typing()
        if self._message is None:
            sent = self._run(self.client.send(self.target, reply))
            return str(sent[0].id) if sent else None
        parts = to_markdown(reply)
        self._run(self._message.edit(content=parts[0], view=self.client._view_for(reply)))
        for part in parts[1:]:
            self._run(self.target.send(part))
        return str(self._message.id)

    def fail(self, text: str) -> None:
        self._stop_typing()
        self.post(Reply(text))


class DiscordAdapter:
    """``run`` blocks until closed; a bad token or a missing intent exits with the fix."""

    def __init__(self, router: Router, pool: AnswerPool, token: str, handoff_channel: str = "",
                 handoff_mention: str = "") -> None:
        self.client = SupportClient(router, pool, handoff_channel, handoff_mention)
        self.token = token

    def run(self) -> None:
        try:
            self.client.run(self.token, log_handler=None)  # reconnects on transient drops
        except discord.LoginFailure:
            raise ConfigError("Discord rejected DISCORD_TOKEN — copy the bot token again "
                              "(Developer Portal → Bot → Reset Token).") from None
        except discord.PrivilegedIntentsRequired:
            raise ConfigError("Discord refused the Message Content intent — enable it under "
                              "Developer Portal → Bot → Privileged Gateway Intents.") from None
        except OSError as exc:  # aiohttp connection errors: Discord is unreachable
            raise ConfigError(f"Cannot reach Discord ({exc}) — check the network.") from None

    def close(self) -> None:
        loop = getattr(self.client, "loop", None)
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self.client.close(), loop)


