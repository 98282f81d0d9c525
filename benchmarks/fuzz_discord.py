"""The Discord half of ``bench_fuzz.py`` (not a benchmark on its own).

Gateway payloads come from Discord, so their schema holds; what a user controls is fuzzed:
message content, mentions, the author's bot flag, DM or guild, reactions' emoji and target
message, and repeated deliveries (a gateway resume replays events). Each payload goes through
discord.py's own parser, so the bot's handlers receive real ``discord.Message`` objects.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord
from bench_fuzz import DISCORD_TOKEN, WORDS, StubEngine, summary

from bot.adapters.discord import SupportClient
from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.storage import Store
from bot.testing.fake_discord import BOT_ID, FakeDiscordAPI

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "discord"
GUILD_CHANNEL = "400000000000000001"


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))


def payloads(n: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """``(kind, payload)``: kind is "message", "reaction_add" or "reaction_remove"."""
    rng, out = random.Random(seed), list[tuple[str, dict[str, Any]]]()
    dm, mention, reaction = fixture("message_dm"), fixture("message_mention"), fixture(
        "reaction_add")
    sent: list[dict[str, Any]] = []
    for i in range(n):
        roll, message_id = rng.random(), str(800000000000000000 + i)
        if roll < 0.5:
            data = copy.deepcopy(dm if rng.random() < 0.6 else mention)
            data["id"] = message_id
            if "guild_id" not in data:  # every DM question in its own channel: replies countable
                data["channel_id"] = str(610000000000000000 + i)
            data["content"] = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4)))
            if rng.random() < 0.3:
                data["content"] = f"<@{BOT_ID}> " + data["content"]
            data["author"]["bot"] = rng.random() < 0.1
            if rng.random() < 0.2:
                data["mentions"] = [] if rng.random() < 0.5 else [dict(
                    data["author"], id=rng.choice([BOT_ID, "1", "200000000000000002"]))]
            sent.append(data)
            out.append(("message", data))
        elif roll < 0.65 and sent:
            out.append(("message", rng.choice(sent)))  # a replayed delivery
        else:
            data = dict(reaction, message_id=rng.choice([message_id, "1", "700000000000000001"]),
                        user_id=rng.choice(["200000000000000001", BOT_ID]),
                        emoji=rng.choice([{"name": "👍", "id": None}, {"name": "👎", "id": None},
                                          {"name": rng.choice(WORDS) or "x", "id": "1"}]))
            out.append((rng.choice(["reaction_add", "reaction_remove"]), data))
    return out[:n]


def run_discord(n: int, seed: int, log: io.StringIO) -> dict[str, Any]:
    return asyncio.run(_run(n, seed, log))


async def _run(n: int, seed: int, log: io.StringIO) -> dict[str, Any]:
    with FakeDiscordAPI() as api, tempfile.TemporaryDirectory() as tmp:
        discord.http.Route.BASE = api.url
        store = Store(f"sqlite:///{Path(tmp) / 'fuzz.db'}")
        client = SupportClient(Router(store, StubEngine()), AnswerPool(2, 10_000, 60))
        await client.login(DISCORD_TOKEN)
        state, parser_errors = client._connection, 0
        state.parse_guild_create(fixture("guild_create"))
        parse: dict[str, Callable[[Any], None]] = {
            "message": state.parse_message_create,
            "reaction_add": state.parse_message_reaction_add,
            "reaction_remove": state.parse_message_reaction_remove}
        for k, (kind, data) in enumerate(payloads(n, seed)):
            try:
                parse[kind](copy.deepcopy(data))
            except Exception:  # noqa: BLE001 - discord.py's own parser, counted as a crash
                parser_errors += 1
            if k % 50 == 0:
                await asyncio.sleep(0)  # let handlers run, as the gateway loop would
        await _settle(api)
        posts = Counter(c.path for c in api.matching("POST", r"/channels/61\d+/messages$"))
        threads = Counter(c.path for c in api.matching("POST", r"/messages/\d+/threads$"))
        await client.close()
        store.close()
    statuses = Counter({200: n})
    crashes = getattr(client, "handler_errors", 0) + parser_errors
    return summary(statuses, crashes, posts + threads, log, 0) | {
        "5xx": None, "log_bytes_per_rejected": round(len(log.getvalue().encode()) / n, 1)}


async def _settle(api: FakeDiscordAPI, quiet: float = 1.5, limit: float = 300.0) -> None:
    """Wait until no REST call arrived for ``quiet`` seconds (bounded by ``limit``)."""
    deadline, seen, since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        if len(api.calls) != seen:
            seen, since = len(api.calls), time.monotonic()
        elif time.monotonic() - since > quiet:
            return
        await asyncio.sleep(0.1)
