"""Hand-off to a human end to end: "Talk to a human" through the fake Slack Web API and the real
discord.py client lands in the support channel with a mention and a link, Claim and
"Resolve & verify" on that post make the team's answer in the user's thread a verified answer;
``kb correct`` in an answer's thread on both platforms; ``supportbot handoffs`` with --json."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from typer.testing import CliRunner

from bot.adapters.discord import SupportClient
from bot.cli import app
from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import IncomingMessage
from bot.runtime import Runtime
from bot.storage import Store
from bot.testing.fake_discord import FakeDiscordAPI
from bot.testing.fake_slack import FakeSlackAPI
from knowledge.errors import InputError
from tests.integration.test_discord import ALICE, BOB, click, payload, until
from tests.integration.test_discord import FakeEngine as DiscordEngine
from tests.integration.test_slack import ADMIN, USER, SlackRig, mention, recorded

SUPPORT, TEAM, AGENT = "CSUPPORT1", "S0TEAM01", "UAGENT01"
THREAD = "1700000001.000100"  # the user's thread: their mention's ts
HUMAN_ANSWER = "Refunds of annual plans take 14 days — I've started yours."


def wait(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return found


def blocks_of(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    return list(json.loads(blocks) if isinstance(blocks, str) else blocks)


def buttons(params: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in blocks_of(params) if b["type"] == "actions"
            for e in b["elements"]]


@pytest.fixture()
def rig(tmp_path: Path) -> Iterator[SlackRig]:
    with FakeSlackAPI() as api:
        rig = SlackRig(tmp_path, api, handoff_channel=SUPPORT, handoff_mention=TEAM)
        yield rig
        rig.adapter.close()
        rig.store.close()


def slack_answer(rig: SlackRig) -> tuple[str, str]:
    """Ask in channel C1; the posted answer's (channel, ts) once it is recorded."""
    rig.event(mention("Can I get a refund on my annual plan?"))
    final = rig.api.wait_for("chat.update")[0].params
    recorded(rig, final["channel"], final["ts"])
    return final["channel"], final["ts"]


def desk_update(rig: SlackRig, ts: str, words: str) -> dict[str, Any]:
    return wait(lambda: next((c.params for c in rig.api.of("chat.update")
                              if c.params.get("ts") == ts and words in c.params["text"]), None))


def test_a_slack_handoff_lands_in_the_support_channel_and_is_resolved_with_a_button(
    rig: SlackRig
) -> None:
    channel, ts = slack_answer(rig)
    assert rig.click("handoff", "handoff", USER, channel, ts) == 200
    post = wait(lambda: [c.params for c in rig.api.of("chat.postMessage")
                         if c.params.get("channel") == SUPPORT])[0]
    assert post["text"].startswith(f"🙋 <!subteam^{TEAM}> <@{USER}> asked for a person")
    assert "*Question:* Can I get a refund on my annual plan?" in post["text"]
    assert "*Answer:* Refunds are possible within 30 days [1]." in post["text"]
    assert "*Sources:* [1] billing/refunds.md — Refund Policy" in post["text"]
    assert f"<https://fake.slack.com/archives/C1/p{THREAD.replace('.', '')}|" in post["text"]
    assert buttons(post) == ["handoff_claim", "handoff_resolve", "handoff_verify"]
    reply = wait(lambda: [c.params for c in rig.api.of("chat.postMessage")
                          if "support team to follow up" in c.params["text"]])[0]
    assert reply["channel"] == channel
    [handoff] = rig.router.handoffs.list()
    assert (handoff.status, handoff.channel, handoff.thread) == ("open", "C1", THREAD)
    support_ts = wait(lambda: rig.router.handoffs.get(handoff.id).support_ref).split(":")[1]

    # a person of the team answers in the user's thread: that is no question for the bot
    said = rig.api.add_message("C1", THREAD, AGENT, HUMAN_ANSWER)
    rig.event({"type": "message", "channel_type": "channel", "user": AGENT, "channel": "C1",
               "ts": said["ts"], "thread_ts": THREAD, "text": HUMAN_ANSWER}, "Ev2")

    assert rig.click("handoff_claim", str(handoff.id), AGENT, SUPPORT, support_ts) == 200
    claimed = desk_update(rig, support_ts, f"claimed by <@{AGENT}>")
    assert buttons(claimed) == ["handoff_resolve", "handoff_verify"]
    assert rig.router.handoffs.get(handoff.id).claimed_by == f"slack:{AGENT}"

    assert rig.click("handoff_verify", str(handoff.id), AGENT, SUPPORT, support_ts) == 200
    resolved = desk_update(rig, support_ts, f"resolved by <@{AGENT}>")
    done = rig.router.handoffs.get(handoff.id)
    assert done.status == "resolved" and done.verified_id is not None
    assert f"verified answer {done.verified_id}" in resolved["text"]
    assert buttons(resolved) == [] and resolved["text"].startswith("✅")
    [verified] = rig.store.verified_answers()
    assert (verified.question, verified.answer) == ("Can I get a refund on my annual plan?",
                                                    HUMAN_ANSWER)
    told = wait(lambda: [c.params for c in rig.api.of("chat.postEphemeral")
                         if "verified answer" in c.params["text"]])
    assert told[0]["user"] == AGENT
    assert len(rig.engine.asked) == 1  # the team's message in the thread was not answered
    assert [a.action for a in rig.store.admin_actions()] == [
        f"handoff claim {done.id}", f"handoff resolve {done.id}", f"verify {done.verified_id}"]


def test_a_second_claim_on_slack_is_refused_to_the_clicker(rig: SlackRig) -> None:
    channel, ts = slack_answer(rig)
    rig.event(mention("a real person please", ts="1700000002.000200", thread_ts=THREAD),
              "Ev2")  # asked in words, in the same thread
    post = wait(lambda: [c.params for c in rig.api.of("chat.postMessage")
                         if c.params.get("channel") == SUPPORT])[0]
    assert "*Question:* Can I get a refund on my annual plan?" in post["text"]
    [handoff] = wait(rig.router.handoffs.list)
    support_ts = wait(lambda: rig.router.handoffs.get(handoff.id).support_ref).split(":")[1]
    rig.click("handoff_claim", str(handoff.id), AGENT, SUPPORT, support_ts)
    rig.click("handoff_claim", str(handoff.id), "UOTHER01", SUPPORT, support_ts)
    refused = wait(lambda: [c.params for c in rig.api.of("chat.postEphemeral")
                            if c.params["user"] == "UOTHER01"])[0]
    assert refused["text"] == (f"Not done: hand-off {handoff.id} is already claimed by "
                               f"slack:{AGENT} — resolve it when done.")
    assert rig.router.handoffs.get(handoff.id).claimed_by == f"slack:{AGENT}"


def test_kb_correct_in_a_slack_thread_is_for_admins(rig: SlackRig) -> None:
    slack_answer(rig)

    def reply(user: str, event_id: str, ts: str) -> None:
        rig.event({"type": "message", "channel_type": "channel", "user": user, "channel": "C1",
                   "ts": ts, "thread_ts": THREAD, "text": f"kb correct {HUMAN_ANSWER}"},
                  event_id)

    reply(USER, "Ev2", "1700000005.000002")
    refused = rig.api.wait_for("chat.postEphemeral")[0].params
    assert refused["user"] == USER and "only knowledge-base admins" in refused["text"]
    assert refused["thread_ts"] == THREAD and rig.store.verified_answers() == []
    reply(ADMIN, "Ev3", "1700000005.000003")
    confirmed = wait(lambda: [c.params for c in rig.api.of("chat.postMessage")
                              if "Corrected" in c.params["text"]])[0]
    assert confirmed["thread_ts"] == THREAD and confirmed["channel"] == "C1"
    [verified] = rig.store.verified_answers()
    assert (verified.answer, verified.author) == (HUMAN_ANSWER, f"slack:{ADMIN}")
    assert len(rig.engine.asked) == 1  # neither message went to the model
    assert [(a.user, a.action, a.allowed) for a in rig.store.admin_actions()] == [
        (USER, "correct", False), (ADMIN, f"verify {verified.id}", True)]


# Discord -------------------------------------------------------------------------------
DESK, ROLE, GUILD = "400000000000000009", "300000000000000002", "100000000000000001"
DISCORD_AGENT = "200000000000000003"


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscordAPI]:
    with FakeDiscordAPI() as api:
        monkeypatch.setattr(discord.http.Route, "BASE", api.url)
        yield api


Scenario = Callable[[SupportClient, Store], Any]


def gateway(client: SupportClient) -> Any:
    """discord.py's parser of gateway events (recorded payloads go in as plain dicts)."""
    return client._connection


def run_discord(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
        router = Router(store, DiscordEngine(), admins={"discord": frozenset({"Support Leads"})})
        client = SupportClient(router, AnswerPool(2, 8, 30), handoff_channel=DESK,
                               handoff_mention=ROLE)
        await client.login("fake-token")
        guild = payload("guild_create")
        guild["channels"].append(guild["channels"][0] | {"id": DESK, "name": "support"})
        gateway(client).parse_guild_create(guild)
        try:
            await scenario(client, store)
        finally:
            await client.close()
            store.close()

    asyncio.run(main())


async def thread_answer(client: SupportClient, store: Store,
                        fake: FakeDiscordAPI) -> tuple[str, str]:
    """Alice mentions the bot in #help; the thread opened and the answer's message id."""
    gateway(client).parse_message_create(payload("message_mention"))
    answer = await until(lambda: [c for c in fake.matching("POST", r"/messages$")
                                  if "/400000000000000001/" not in c.path])
    thread = answer[0].path.split("/")[-2]
    return thread, str(await until(lambda: _answer_ref(store)))


def _answer_ref(store: Store) -> str | None:
    found = store.latest_answer("discord", _thread(store), "")
    message = store.message(found) if found else None
    return message.platform_ref if message is not None else None


def _thread(store: Store) -> str:
    from sqlalchemy import select

    from bot.storage.models import Conversation

    with store.session() as s:
        return str(s.scalar(select(Conversation.channel)) or "")


def desk_click(fake: FakeDiscordAPI, custom_id: str, message_id: str, number: int) -> Any:
    """A click by the agent on the hand-off's post in the support channel."""
    data = copy.deepcopy(payload("interaction_kb_refresh"))
    data |= {"type": 3, "id": f"82000000000000000{number}", "token": f"ZGVzaw{number}",
             "channel_id": DESK, "channel": data["channel"] | {"id": DESK, "name": "support"},
             "message": fake.message(DESK, "hand-off") | {"id": message_id},
             "data": {"custom_id": custom_id, "component_type": 2}}
    data["member"]["user"] |= {"id": DISCORD_AGENT, "username": "agent"}
    return data


def edited(fake: FakeDiscordAPI, ref: str, words: str) -> Callable[[], Any]:
    return lambda: [c.body for c in fake.matching("PATCH", rf"/channels/{DESK}/messages/{ref}$")
                    if words in c.body.get("content", "")]


def test_a_discord_handoff_lands_in_the_support_channel_and_is_resolved_with_a_button(
    tmp_path: Path, fake: FakeDiscordAPI
) -> None:
    async def scenario(client: SupportClient, store: Store) -> None:
        thread, ref = await thread_answer(client, store, fake)
        gateway(client).parse_interaction_create(click("supportbot:handoff", ref, 1))
        post = (await until(lambda: fake.matching("POST", rf"/channels/{DESK}/messages$")))[0]
        assert post.body["content"].startswith(f"🙋 <@&{ROLE}> <@{ALICE}> asked for a person")
        assert "**Question:** how do refunds work?" in post.body["content"]
        assert "[1] billing/refunds.md — Refund Policy" in post.body["content"]
        assert f"https://discord.com/channels/{GUILD}/{thread}/{ref}" in post.body["content"]
        assert [c["custom_id"] for row in post.body["components"] for c in row["components"]] \
            == ["supportbot:desk:claim", "supportbot:desk:resolve", "supportbot:desk:verify"]
        [handoff] = store.list_handoffs()
        support = await until(lambda: client.router.handoffs.get(handoff.id).support_ref)
        # the agent answers in the user's thread; the bot stays out of it
        said = fake.add_message(thread, DISCORD_AGENT, HUMAN_ANSWER)
        gateway(client).parse_message_create(said | {"guild_id": GUILD})
        gateway(client).parse_interaction_create(
            desk_click(fake, "supportbot:desk:claim", support, 2))
        claimed = (await until(edited(fake, support, f"claimed by <@{DISCORD_AGENT}>")))[0]
        assert [c["custom_id"] for row in claimed["components"] for c in row["components"]] \
            == ["supportbot:desk:resolve", "supportbot:desk:verify"]
        gateway(client).parse_interaction_create(
            desk_click(fake, "supportbot:desk:verify", support, 3))
        resolved = (await until(edited(fake, support, "resolved by")))[0]
        assert resolved["components"] == []
        told = [c.body.get("content", "") for c in fake.matching("POST", r"/webhooks/")]
        assert any("support team to follow up" in t for t in told)  # the user's reply
        assert await until(lambda: [c for c in fake.matching("POST", r"/webhooks/")
                                    if "verified answer" in c.body.get("content", "")])
        done = store.handoff(handoff.id)
        assert done is not None and done.status == "resolved" and done.verified_id is not None
        [verified] = store.verified_answers()
        assert (verified.answer, verified.author) == (HUMAN_ANSWER, f"discord:{DISCORD_AGENT}")
        assert client.router.engine.asked == [("how do refunds work?", ())]  # type: ignore[attr-defined]
        assert client.handler_errors == 0

    run_discord(tmp_path, scenario)


def kb_correct(thread: str, number: int, admin: bool) -> dict[str, Any]:
    data = copy.deepcopy(payload("interaction_kb_refresh"))
    data |= {"id": f"83000000000000000{number}", "token": f"Y29ycmVjdA{number}",
             "channel_id": thread, "channel": data["channel"] | {"id": thread}}
    data["data"]["options"] = [{"type": 1, "name": "correct", "options": [
        {"type": 3, "name": "text", "value": HUMAN_ANSWER}]}]
    data["member"]["roles"] = ["300000000000000001"] if admin else []  # Support Leads
    return data


def test_kb_correct_inside_a_discord_thread_is_for_admins(
    tmp_path: Path, fake: FakeDiscordAPI
) -> None:
    async def scenario(client: SupportClient, store: Store) -> None:
        thread, _ = await thread_answer(client, store, fake)
        gateway(client).parse_interaction_create(kb_correct(thread, 1, admin=False))
        refused = (await until(lambda: fake.matching("POST", r"/interactions/\d+1/.+/callback")))
        assert "only knowledge-base admins" in refused[0].body["data"]["content"]
        assert refused[0].body["data"]["flags"] == 64  # ephemeral: only Bob sees it
        assert store.verified_answers() == []
        gateway(client).parse_interaction_create(kb_correct(thread, 2, admin=True))
        done = (await until(lambda: fake.matching("POST", r"/interactions/\d+2/.+/callback")))
        assert "Corrected" in done[0].body["data"]["content"]
        assert not done[0].body["data"].get("flags")  # shown in the thread
        [verified] = store.verified_answers()
        assert (verified.question, verified.answer) == ("how do refunds work?", HUMAN_ANSWER)
        assert [(a.user, a.allowed) for a in store.admin_actions()] == [(BOB, False),
                                                                        (BOB, True)]

    run_discord(tmp_path, scenario)


# CLI -------------------------------------------------------------------------------------
def test_handoffs_cli_lists_claims_and_resolves_with_a_verified_answer(home: Path) -> None:
    from bot.settings import load_settings

    store = Store(load_settings().db_url)
    router = Router(store, DiscordEngine())
    reply = router.handle_message(IncomingMessage("slack", "C1", "U1", "Refunds?", "t1"))
    assert reply.message_id is not None
    router.mark_posted(reply.message_id, "C1:a1")
    router.request_human("slack", "U1", "C1:a1")
    router.handle_message(IncomingMessage("web", "web", "ada", "human please", "w1"))

    def cli(*args: str) -> Any:
        result = CliRunner().invoke(app, [*args, "--json"], obj=Runtime)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    listed = cli("handoffs", "list")["handoffs"]
    assert [(h["platform"], h["status"], h["question"]) for h in listed] == [
        ("web", "open", "human please"), ("slack", "open", "Refunds?")]
    assert set(listed[0]) >= {"id", "platform", "status", "question", "created_at"}
    slack_id = listed[1]["id"]
    claimed = cli("handoffs", "claim", str(slack_id))["handoff"]
    assert claimed["status"] == "claimed" and claimed["claimed_by"].startswith("cli:")
    with pytest.raises(InputError, match="already claimed by you"):
        cli("handoffs", "claim", str(slack_id))
    done = cli("handoffs", "resolve", str(slack_id), "--answer", HUMAN_ANSWER)["handoff"]
    assert done["status"] == "resolved" and done["verified_id"] is not None
    assert [h["id"] for h in cli("handoffs", "list", "--status", "resolved")["handoffs"]] == [
        slack_id]
    assert [v["answer"] for v in cli("verified", "list")["verified"]] == [HUMAN_ANSWER]
    with pytest.raises(InputError, match="no answer of the bot to correct"):
        cli("handoffs", "resolve", str(listed[0]["id"]), "--answer", "Hello")
    with pytest.raises(InputError, match="unknown status"):
        cli("handoffs", "list", "--status", "closed")
    actions = [a.action for a in store.admin_actions() if a.platform == "cli"]
    assert actions == [f"handoff claim {slack_id}", f"handoff resolve {slack_id}",
                       f"verify {done['verified_id']}"]
    store.close()

