"""Slack payload translation: pure functions on recorded event JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.adapters.render import split_message
from bot.adapters.slack_payloads import (
    admin_from_command,
    message_from_event,
    reaction_from_event,
    to_mrkdwn,
)
from bot.core.types import Reply, Source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack"
BOT = "UBOT0001"


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def never(channel: str, thread: str) -> bool:
    return False


def test_mention_becomes_a_question_threaded_under_it() -> None:
    msg = message_from_event(load("app_mention"), BOT, never)
    assert msg is not None
    assert (msg.platform, msg.channel, msg.user) == ("slack", "C0LAN2Q65", "U061F7AUR")
    assert msg.text == "how do I get a refund?"
    assert msg.thread == "1515449522.000016"
    assert msg.event_id == "slack:C0LAN2Q65:1515449522.000016"


def test_dm_is_a_question_without_thread() -> None:
    msg = message_from_event(load("message_im"), BOT, never)
    assert msg is not None and msg.thread == "" and msg.channel == "D024BE91L"


def test_thread_reply_counts_only_in_threads_the_bot_is_in() -> None:
    event = load("message_thread_reply")
    assert message_from_event(event, BOT, never) is None
    msg = message_from_event(event, BOT, lambda c, t: (c, t) == ("C0LAN2Q65", event["thread_ts"]))
    assert msg is not None and msg.thread == event["thread_ts"]


def test_bot_messages_and_own_messages_are_ignored() -> None:
    assert message_from_event(load("message_bot"), BOT, lambda c, t: True) is None
    own = load("message_im") | {"user": BOT}
    assert message_from_event(own, BOT, lambda c, t: True) is None


def test_mention_seen_as_message_event_is_left_to_app_mention() -> None:
    event = load("app_mention") | {"type": "message", "channel_type": "channel",
                                   "thread_ts": "1515449522.000016"}
    assert message_from_event(event, BOT, lambda c, t: True) is None


def test_reactions_on_bot_answers_only() -> None:
    added = reaction_from_event(load("reaction_added"), BOT)
    assert added is not None and added.added and added.reaction == "+1"
    assert added.message_ref == "C0LAN2Q65:1515449523.000020"
    assert reaction_from_event(load("reaction_removed_other"), BOT) is None
    removed = reaction_from_event(load("reaction_removed_other") | {"item_user": BOT}, BOT)
    assert removed is not None and not removed.added and removed.reaction == "-1"


def test_slash_command_action_is_lowercased_first_word() -> None:
    cmd = admin_from_command(load("slash_command"))
    assert (cmd.platform, cmd.user, cmd.action) == ("slack", "U061F7AUR", "refresh")
    assert admin_from_command({"user_id": "U1", "text": ""}).action == "status"


def test_mrkdwn_lists_cited_sources_and_converts_bold() -> None:
    src = Source("c1", "billing/refunds.md", "Refund Policy", 0.5, "...")
    parts = to_mrkdwn(Reply("**Yes**: within 30 days [1].", (src,)))
    assert parts == ["*Yes*: within 30 days [1].\n\n*Sources*\n[1] `billing/refunds.md` — "
                     "Refund Policy"]


def test_split_keeps_limit_citations_and_code_blocks() -> None:
    text = ("Intro paragraph with a citation [12]. " * 30 + "\n\n```\n" + "line of code\n" * 60
            + "```\n" + "Closing words [3]. " * 20)
    parts = split_message(text, 400)
    assert all(len(p) <= 400 for p in parts)
    assert all(p.count("```") % 2 == 0 for p in parts)
    joined = " ".join(parts)
    assert joined.count("[12]") == 30 and joined.count("[3]") == 20
    assert split_message("short", 100) == ["short"]
