"""Discord through the real discord.py client: recorded gateway payloads in, REST calls out.

The client logs in against a fake REST API on loopback; events are fed to discord.py's own
gateway parser, so our handlers receive real ``discord.Message`` and ``Interaction`` objects.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import discord
import pytest

from bot.adapters.discord import SupportClient
from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import Answer, Source, Turn
from bot.storage import Store
from bot.testing.fake_discord import FakeDiscordAPI
from tests.fakes import FakeAdmin

if TYPE_CHECKING:
    from discord.types import gateway as gw

FIXTURES = Path(__file__).parent.parent / "fixtures" / "discord"
ALICE, BOB = "200000000000000001", "200000000000000002"


def payload(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))


class Gateway:
    """Gateway events into discord.py's own parsers, as its websocket hands them over.

    The recorded payloads are JSON, so plain dicts here; the parsers are typed with the
    TypedDicts of ``discord.types.gateway`` that those payloads are: cast once, here.
    """

    def __init__(self, client: SupportClient) -> None:
        self.state = client._connection

    def message(self, data: dict[str, Any]) -> None:
        self.state.parse_message_create(cast("gw.MessageCreateEvent", data))

    def interaction(self, data: dict[str, Any]) -> None:
        self.state.parse_interaction_create(cast("gw.InteractionCreateEvent", data))

    def reaction_add(self, data: dict[str, Any]) -> None:
        self.state.parse_message_reaction_add(cast("gw.MessageReactionAddEvent", data))

    def reaction_remove(self, data: dict[str, Any]) -> None:
        self.state.parse_message_reaction_remove(cast("gw.MessageReactionRemoveEvent", data))


class FakeEngine:
    def __init__(self, text: str = "Refunds are possible within 30 days [1].") -> None:
        self.text, self.asked = text, []  # type: ignore[var-annotated]
        self.partial: list[str] = []  # texts streamed to on_text before the answer returns

    def answer(self, question: str, history: Sequence[Turn] = (),
               on_text: Callable[[str], None] | None = None) -> Answer:
        self.asked.append((question, tuple(history)))
        for text in self.partial:
            if on_text is not None:
                on_text(text)
        src = Source("c1", "billing/refunds.md", "Refund Policy", 0.9, "Refunds: 30 days.")
        return Answer(self.text, (src,), 5.0, "fake-model", None, question)


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscordAPI]:
    with FakeDiscordAPI() as api:
        monkeypatch.setattr(discord.http.Route, "BASE", api.url)
        yield api


Scenario = Callable[[SupportClient, Store, FakeEngine, FakeAdmin], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario, engine: FakeEngine | None = None) -> None:
    async def main() -> None:
        store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
        engine_ = engine or FakeEngine()
        admin = FakeAdmin()
        router = Router(store, engine_, admin=admin,
                        admins={"discord": frozenset({"Support Leads"})})
        client = SupportClient(router, AnswerPool(2, 8, 30))
        await client.login("fake-token")
        client._connection.parse_guild_create(payload("guild_create"))
        try:
            await scenario(client, store, engine_, admin)
        finally:
            await client.close()
            store.close()

    asyncio.run(main())


async def until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := check()):
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)
    return result


def test_dm_is_answered_with_citations(tmp_path: Path, fake: FakeDiscordAPI) -> None:
    async def scenario(client: SupportClient, store: Store, engine: FakeEngine,
                       admin: FakeAdmin) -> None:
        Gateway(client).message(payload("message_dm"))
        sent = await until(lambda: fake.matching("POST", r"/channels/600000000000000001/messages$"))
        assert "within 30 days [1]" in sent[0].body["content"]
        assert "**Sources**\n[1] `billing/refunds.md`" in sent[0].body["content"]
        assert engine.asked[0][0] == "Do you accept PayPal?"

    run(tmp_path, scenario)


def test_mention_opens_a_thread_and_follow_ups_need_no_mention(
    tmp_path: Path, fake: FakeDiscordAPI
) -> None:
    async def scenario(client: SupportClient, store: Store, engine: FakeEngine,
                       admin: FakeAdmin) -> None:
        Gateway(client).message(payload("message_mention"))
        threads = await until(lambda: fake.matching("POST", r"/messages/\d+/threads$"))
        assert threads[0].path.startswith("/api/v10/channels/400000000000000001/")
        answer = await until(lambda: [c for c in fake.matching("POST", r"/messages$")
                                      if "/400000000000000001/" not in c.path])
        thread_id = answer[0].path.split("/")[-2]
        assert engine.asked[0][0] == "how do refunds work?"
        follow = payload("message_mention") | {
            "id": "500000000000000003", "channel_id": thread_id, "mentions": [],
            "content": "and for annual plans?"}
        Gateway(client).message(follow)
        await until(lambda: len(engine.asked) == 2)
        question, history = engine.asked[1]
        assert question == "and for annual plans?"
        assert [t.text for t in history][:1] == ["how do refunds work?"]
        await until(lambda: len(fake.matching("POST", rf"/channels/{thread_id}/messages$")) == 2)

    run(tmp_path, scenario)


def test_a_repeated_delivery_opens_no_second_thread_and_posts_no_second_reply(
    tmp_path: Path, fake: FakeDiscordAPI
) -> None:
    async def scenario(client: SupportClient, store: Store, engine: FakeEngine,
                       admin: FakeAdmin) -> None:
        empty = payload("message_dm") | {"id": "500000000000000009", "content": "   "}
        for _ in range(3):  # a gateway resume replays events
            Gateway(client).message(payload("message_mention"))
            Gateway(client).message(empty)
        await until(lambda: len(engine.asked) == 1)
        await until(lambda: len(fake.matching("POST", r"/messages$")) == 2)
        await asyncio.sleep(0.5)  # a second thread or reply would show up by now
        assert len(fake.matching("POST", r"/messages/\d+/threads$")) == 1
        posts = [c.body["content"] for c in fake.matching("POST", r"/messages$")]
        assert len(posts) == 2 and sum("type a question" in p for p in posts) == 1
        assert client.handler_errors == 0

    run(tmp_path, scenario)


def test_a_streaming_answer_is_one_message_edited_into_the_answer(
    tmp_path: Path, fake: FakeDiscordAPI
) -> None:
    engine = FakeEngine()
    engine.partial = ["Refunds are possible [1]."]

    async def scenario(client: SupportClient, store: Store, engine: FakeEngine,
                       admin: FakeAdmin) -> None:
        Gateway(client).message(payload("message_dm"))
        edits = await until(lambda: fake.matching("PATCH", r"/channels/\d+/messages/\d+$"))
        posts = fake.matching("POST", r"/channels/600000000000000001/messages$")
        assert [p.body["content"] for p in posts] == ["Refunds are possible [1]. …"]
        assert edits[0].body["content"].startswith("Refunds are possible within 30 days [1].")
        message_id = edits[0].path.split("/")[-1]
        # recorded just after the edit, so reactions and buttons find it
        assert await until(lambda: store.answer_by_ref("discord", message_id))

    run(tmp_path, scenario, engine)


def click(custom_id: str, message_id: str, number: int) -> dict[str, Any]:
    """A button click (INTERACTION_CREATE, type 3) by Alice on a bot message in her DM."""
    message = payload("message_dm") | {"id": message_id, "author": {
        "id": "999000000000000001", "username": "supportbot", "discriminator": "0",
        "avatar": None, "bot": True, "global_name": None}, "content": "answer"}
    return {"version": 1, "type": 3, "token": f"dG9rZW4{number}",
            "id": f"81000000000000000{number}", "application_id": "555000000000000001",
            "channel_id": "600000000000000001",
            "channel": {"id": "600000000000000001", "type": 1}, "user": message["author"] | {
                "id": ALICE, "username": "alice", "bot": False},
            "message": message, "data": {"custom_id": custom_id, "component_type": 2},
            "app_permissions": "0", "locale": "en-US", "entitlements": [],
            "attachment_size_limit": 10485760, "authorizing_integration_owners": {},
            "context": 1}


def test_answer_buttons_vote_and_ask_for_a_human(tmp_path: Path, fake: FakeDiscordAPI) -> None:
    async def scenario(client: SupportClient, store: Store, engine: FakeEngine,
                       admin: FakeAdmin) -> None:
        Gateway(client).message(payload("message_dm"))
        posted = await until(lambda: fake.matching("POST", r"/messages$"))
        custom_ids = [c["custom_id"] for row in posted[0].body["components"]
                      for c in row["components"]]
        assert custom_ids == ["supportbot:vote:+1", "supportbot:vote:-1", "supportbot:handoff"]
        ref = (await until(lambda: [r for r in [_first_answer_ref(store)] if r]))[0]
        Gateway(client).interaction(click("supportbot:vote:+1", ref, 1))
        Gateway(client).interaction(click("supportbot:vote:-1", ref, 2))
        await until(lambda: len(fake.matching("POST", r"/interactions/\d+/[^/]+/callback$")) == 2)
        reaction = payload("reaction_add") | {"message_id": ref, "emoji": {"name": "👎"}}
        Gateway(client).reaction_add(reaction)
        await until(lambda: [r for r in store.list_feedback() if r.reaction == "👎"])
        assert [(r.user, r.score) for r in store.list_feedback()] == [(ALICE, -1)]  # once
        Gateway(client).interaction(click("supportbot:handoff", ref, 3))
        [handoff] = await until(store.handoffs)
        assert handoff.user == ALICE and handoff.message_id is not None
        assert client.handler_errors == 0

    run(tmp_path, scenario)


def test_other_guild_talk_and_bots_are_ignored(tmp_path: Path, fake: FakeDiscordAPI) -> None:
    async def scenario(client: SupportClient, store: Store, engine: FakeEngine,
                       admin: FakeAdmin) -> None:
        chatter = payload("message_mention") | {"mentions": [], "content": "lunch anyone?"}
        Gateway(client).message(chatter)
        bot_dm = copy.deepcopy(payload("message_dm"))
        bot_dm["author"]["bot"] = True
        Gateway(client).message(bot_dm)
        await asyncio.sleep(0.5)
        assert engine.asked == [] and fake.matching("POST", r"/messages$") == []

    run(tmp_path, scenario)


def test_long_answers_are_split_without_breaking_citations(
    tmp_path: Path, fake: FakeDiscordAPI
) -> None:
    long_text = " ".join(f"Step {i} is explained in the guide [1]." for i in range(160))

    async def scenario(client: SupportClient, store: Store, engine: FakeEngine,
                       admin: FakeAdmin) -> None:
        Gateway(client).message(payload("message_dm"))
        sent = await until(lambda: len(fake.matching("POST", r"/messages$")) >= 4 and
                           fake.matching("POST", r"/messages$"))
        contents = [c.body["content"] for c in sent]
        assert all(len(c) <= 2000 for c in contents)
        assert sum(c.count("[1]") for c in contents) == 160 + 1  # + the source list
        assert contents[-1].endswith("`billing/refunds.md` — Refund Policy")

    run(tmp_path, scenario, FakeEngine(long_text))


def test_reactions_on_answers_become_feedback(tmp_path: Path, fake: FakeDiscordAPI) -> None:
    async def scenario(client: SupportClient, store: Store, engine: FakeEngine,
                       admin: FakeAdmin) -> None:
        Gateway(client).message(payload("message_dm"))
        await until(lambda: fake.matching("POST", r"/messages$"))
        answer_ref = await until(lambda: [r for r in [_first_answer_ref(store)] if r])
        reaction = payload("reaction_add") | {"message_id": answer_ref[0]}
        Gateway(client).reaction_add(reaction)
        rows = await until(store.list_feedback)
        assert (rows[0].user, rows[0].reaction, rows[0].score) == (ALICE, "👍", 1)
        Gateway(client).reaction_remove(reaction)
        await until(lambda: not store.list_feedback())
        other = reaction | {"message_id": "123456789012345678"}
        Gateway(client).reaction_add(other)
        await asyncio.sleep(0.3)
        assert store.list_feedback() == []

    run(tmp_path, scenario)


def _first_answer_ref(store: Store) -> str | None:
    from sqlalchemy import select

    from bot.storage.models import Message

    with store.session() as s:
        return s.scalar(select(Message.platform_ref).where(Message.role == "assistant"))


def test_admin_refresh_allowed_by_role_and_refused_without(
    tmp_path: Path, fake: FakeDiscordAPI
) -> None:
    async def scenario(client: SupportClient, store: Store, engine: FakeEngine,
                       admin: FakeAdmin) -> None:
        refused = payload("interaction_kb_refresh")
        Gateway(client).interaction(refused)
        followups = await until(lambda: fake.matching("POST", r"/webhooks/\d+/"))
        assert fake.matching("POST", r"/interactions/\d+/[^/]+/callback$")  # deferred first
        assert "only knowledge-base admins" in followups[0].body["content"]
        assert admin.refreshed == []
        allowed = copy.deepcopy(refused)
        allowed["id"], allowed["token"] = "800000000000000002", "dG9rZW4tMg"
        allowed["member"]["roles"] = ["300000000000000001"]  # Support Leads
        Gateway(client).interaction(allowed)
        done = await until(lambda: [c for c in fake.matching("POST", r"/webhooks/")
                                    if "Knowledge refreshed" in c.body.get("content", "")])
        assert admin.refreshed == [f"discord:{BOB}"] and done
        actions = [(a.user, a.allowed) for a in store.admin_actions()]
        assert actions == [(BOB, False), (BOB, True)]

    run(tmp_path, scenario)
