"""Discord payload translation: pure functions on recorded gateway JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.adapters.discord_payloads import (
    MessageView,
    message_from_view,
    needs_thread,
    reaction_from_payload,
    to_markdown,
    view_from_payload,
)
from bot.core.types import Reply, Source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "discord"
BOT = "999000000000000001"


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))


def parsed(data: dict[str, Any]) -> MessageView:
    found = view_from_payload(data)
    assert found is not None
    return found


def test_dm_is_a_question() -> None:
    view = parsed(load("message_dm"))
    msg = message_from_view(view, BOT, lambda c: False)
    assert msg is not None and view.guild_id is None
    assert (msg.channel, msg.user, msg.text) == ("600000000000000001", "200000000000000001",
                                                 "Do you accept PayPal?")
    assert msg.event_id == "discord:500000000000000001"
    assert not needs_thread(view, BOT, lambda c: False)


def test_guild_mention_is_a_question_that_needs_a_thread() -> None:
    view = parsed(load("message_mention"))
    msg = message_from_view(view, BOT, lambda c: False)
    assert msg is not None and msg.text == "how do refunds work?"
    assert needs_thread(view, BOT, lambda c: False)
    assert not needs_thread(view, BOT, lambda c: True)  # already a bot thread


def test_unaddressed_guild_message_is_ignored_unless_in_a_bot_thread() -> None:
    data = load("message_mention") | {"mentions": [], "content": "hello all"}
    view = parsed(data)
    assert message_from_view(view, BOT, lambda c: False) is None
    assert message_from_view(view, BOT, lambda c: True) is not None


def test_bots_are_ignored() -> None:
    data = load("message_dm")
    data["author"] = data["author"] | {"bot": True}
    assert message_from_view(parsed(data), BOT, lambda c: True) is None
    data["author"] = {"id": BOT, "username": "supportbot"}
    assert message_from_view(parsed(data), BOT, lambda c: True) is None


def test_reactions() -> None:
    data = load("reaction_add") | {"message_id": "42"}
    event = reaction_from_payload(data, True, BOT)
    assert event is not None and (event.reaction, event.message_ref, event.added) == ("👍", "42",
                                                                                      True)
    assert reaction_from_payload(data | {"user_id": BOT}, True, BOT) is None


def test_markdown_sources() -> None:
    src = Source("c1", "api/webhooks.md", "Webhooks", 0.5, "...")
    assert to_markdown(Reply("Use webhooks [1].", (src,))) == [
        "Use webhooks [1].\n\n**Sources**\n[1] `api/webhooks.md` — Webhooks"]
