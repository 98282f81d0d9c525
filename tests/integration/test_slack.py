"""Slack through the real bolt app, over HTTP with signed requests, against a fake Web API."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from bot.adapters.slack import SlackAdapter
from bot.adapters.slack_surface import WORKING
from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import Answer, Source, Turn
from bot.storage import Store
from bot.testing.fake_slack import BOT_USER_ID, FakeSlackAPI, signed_headers
from tests.fakes import FakeAdmin

SECRET = "test-signing-secret"
ADMIN, USER = "UADMIN01", "UUSER001"


class FakeEngine:
    """Answers instantly, citing one source; records what it was asked with which history."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[Turn, ...]]] = []
        self.partial: list[str] = []  # texts streamed to on_text before the answer returns

    def answer(self, question: str, history: Sequence[Turn] = (),
               on_text: Callable[[str], None] | None = None) -> Answer:
        self.asked.append((question, tuple(history)))
        for text in self.partial:
            if on_text is not None:
                on_text(text)
        source = Source("c1", "billing/refunds.md", "Refund Policy", 0.9, "Refunds: 30 days.")
        return Answer(f"Refunds are possible within 30 days [1]. ({question})", (source,),
                      5.0, "fake-model", None, question)


class SlackRig:
    def __init__(self, tmp: Path, api: FakeSlackAPI, **options: str) -> None:
        self.api, self.engine, self.admin = api, FakeEngine(), FakeAdmin()
        self.store = Store(f"sqlite:///{tmp / 'bot.db'}")
        self.router = Router(self.store, self.engine, admin=self.admin,
                             admins={"slack": frozenset({ADMIN})})
        self.adapter = SlackAdapter(self.router, AnswerPool(2, 8, 30), bot_token="xoxb-test",
                                    signing_secret=SECRET, mode="http", host="127.0.0.1",
                                    port=0, api_url=api.url, prompts=("How do refunds work?",),
                                    **options)  # type: ignore[arg-type]
        threading.Thread(target=self.adapter.run, daemon=True).start()
        while self.adapter._server is None:
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.adapter.port}/slack/events"

    def post(self, body: str, headers: dict[str, str]) -> int:
        request = urllib.request.Request(self.url, body.encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def event(self, event: Mapping[str, object], event_id: str = "Ev1", retry: int = 0) -> int:
        body = json.dumps({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
                           "event_id": event_id, "event_time": int(time.time()), "event": event})
        headers = signed_headers(SECRET, body)
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(body, headers)

    def click(self, action: str, value: str, user: str, channel: str, ts: str) -> int:
        """A signed block_actions payload: ``user`` clicked a button on message ``ts``."""
        payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user},
                   "api_app_id": "A1", "container": {"type": "message", "message_ts": ts,
                                                     "channel_id": channel},
                   "channel": {"id": channel}, "message": {"ts": ts, "thread_ts": "t0"},
                   "actions": [{"action_id": action, "block_id": "b1", "value": value,
                                "type": "button", "action_ts": "1"}]}
        form = "payload=" + urllib.parse.quote(json.dumps(payload))
        headers = signed_headers(SECRET, form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self.post(form, headers)

    def command(self, user: str, text: str) -> tuple[int, str]:
        form = (f"command=%2Fkb&text={text}&user_id={user}&channel_id=C1&team_id=T1"
                f"&response_url={self.api.response_url('r1')}&trigger_id=t1")
        headers = signed_headers(SECRET, form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.url, form.encode(), headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.read().decode()


@pytest.fixture()
def rig(tmp_path: Path) -> Iterator[SlackRig]:
    with FakeSlackAPI() as api:
        rig = SlackRig(tmp_path, api)
        yield rig
        rig.adapter.close()
        rig.store.close()


def mention(text: str, ts: str = "1700000001.000100", **extra: object) -> dict[str, object]:
    return {"type": "app_mention", "user": USER, "channel": "C1", "ts": ts,
            "text": f"<@{BOT_USER_ID}> {text}", **extra}


def test_mention_gets_a_threaded_answer_with_citations(rig: SlackRig) -> None:
    assert rig.event(mention("Can I get a refund?")) == 200
    placeholder = rig.api.wait_for("chat.postMessage")[0].params
    assert placeholder["thread_ts"] == "1700000001.000100" and placeholder["text"] == WORKING
    update = rig.api.wait_for("chat.update")[0].params
    assert "within 30 days [1]" in update["text"]
    assert "*Sources*" in update["text"] and "`billing/refunds.md`" in update["text"]
    assert rig.engine.asked[0][0] == "Can I get a refund?"  # mention stripped


def test_thread_follow_up_without_mention_uses_history(rig: SlackRig) -> None:
    rig.event(mention("What plans exist?"), "Ev1")
    rig.api.wait_for("chat.update")
    follow_up = {"type": "message", "channel_type": "channel", "user": USER, "channel": "C1",
                 "ts": "1700000002.000200", "thread_ts": "1700000001.000100",
                 "text": "and how much does that cost?"}
    rig.event(follow_up, "Ev2")
    rig.api.wait_for("chat.update", 2)
    question, history = rig.engine.asked[1]
    assert question == "and how much does that cost?"
    assert [t.role for t in history] == ["user", "assistant"]
    assert history[0].text == "What plans exist?"


def test_channel_chatter_outside_bot_threads_is_ignored(rig: SlackRig) -> None:
    rig.event({"type": "message", "channel_type": "channel", "user": USER, "channel": "C1",
               "ts": "1700000009.000100", "thread_ts": "1700000008.000100", "text": "lunch?"})
    rig.event({"type": "message", "channel_type": "im", "bot_id": "B2", "user": "UOTHERBOT",
               "channel": "D1", "ts": "1700000009.000200", "text": "I am a bot"}, "Ev9")
    time.sleep(0.5)
    assert rig.engine.asked == [] and rig.api.of("chat.postMessage") == []


def test_dm_is_answered_directly(rig: SlackRig) -> None:
    rig.event({"type": "message", "channel_type": "im", "user": USER, "channel": "D1",
               "ts": "1700000003.000300", "text": "Do you take PayPal?"})
    placeholder = rig.api.wait_for("chat.postMessage")[0].params
    assert placeholder["channel"] == "D1" and "thread_ts" not in placeholder
    assert "Do you take PayPal?" in rig.api.wait_for("chat.update")[0].params["text"]


def test_a_streaming_answer_fills_the_placeholder_then_is_finished(rig: SlackRig) -> None:
    rig.engine.partial = ["Refunds are possible [1].", "Refunds are possible [1]. Soon."]
    rig.event(mention("Refunds?"))
    placeholder = rig.api.wait_for("chat.postMessage")[0]
    updates = rig.api.wait_for("chat.update", 2)
    time.sleep(0.3)  # a further (throttled-away) update would show up by now
    updates = rig.api.of("chat.update")
    assert [u.params["text"] for u in updates[:1]] == ["Refunds are possible [1]. …"]
    assert len(updates) == 2  # the second partial came within a second: skipped
    assert updates[1].params["text"].startswith("Refunds are possible within 30 days [1].")
    assert len({u.params["ts"] for u in updates}) == 1  # both edit the placeholder
    assert placeholder.params["text"] == WORKING and len(rig.api.of("chat.postMessage")) == 1


@pytest.fixture()
def streaming_rig(tmp_path: Path) -> Iterator[SlackRig]:
    """A workspace where chat.startStream works and threads are assistant threads."""
    with FakeSlackAPI(streaming=True, assistant=True) as api:
        rig = SlackRig(tmp_path, api)
        yield rig
        rig.adapter.close()
        rig.store.close()


def test_an_answer_streams_where_slack_allows_it(streaming_rig: SlackRig) -> None:
    rig = streaming_rig
    rig.engine.partial = ["Refunds are possible [1]."]
    rig.event(mention("Refunds?"))
    stop = rig.api.wait_for("chat.stopStream")[0].params
    status = rig.api.of("assistant.threads.setStatus")[0].params
    assert status["thread_ts"] == "1700000001.000100" and status["loading_messages"]
    assert rig.api.of("chat.postMessage") == []  # the status shows; no placeholder
    start = rig.api.of("chat.startStream")[0].params
    assert (start["markdown_text"], start["thread_ts"]) == ("Refunds are possible [1].",
                                                           "1700000001.000100")
    assert (start["recipient_user_id"], start["recipient_team_id"]) == (USER, "T1")
    # the final answer is not the streamed text continued: the message is rewritten with it
    final = rig.api.wait_for("chat.update")[0].params
    assert final["ts"] == stop["ts"] and final["text"].startswith(
        "Refunds are possible within 30 days [1].")
    recorded(rig, final["channel"], stop["ts"])  # reactions and buttons find the answer


def test_a_stream_that_the_answer_continues_ends_with_the_rest_and_the_buttons(
    streaming_rig: SlackRig
) -> None:
    rig = streaming_rig
    rig.engine.partial = ["Refunds are possible within 30 days [1]."]
    rig.event(mention("Refunds?"))
    stop = rig.api.wait_for("chat.stopStream")[0].params
    assert stop["markdown_text"].startswith(" (Refunds?)")  # the rest, then the sources
    assert "billing/refunds.md" in stop["markdown_text"]
    assert [b["type"] for b in stop["blocks"]] == ["context_actions", "actions"]
    time.sleep(0.2)
    assert rig.api.of("chat.update") == []  # nothing to rewrite


def test_an_answer_with_nothing_streamed_in_an_assistant_thread_is_posted_with_buttons(
    streaming_rig: SlackRig
) -> None:
    rig = streaming_rig  # the status shows while answering, so there is no placeholder to edit
    rig.event(mention("Refunds?"))
    posted = rig.api.wait_for("chat.postMessage")[0].params
    assert posted["text"].startswith("Refunds are possible within 30 days [1].")
    assert [b["type"] for b in posted["blocks"]] == ["section", "context_actions", "actions"]
    assert rig.api.of("chat.startStream") == [] and rig.api.of("chat.update") == []


def test_streaming_refused_falls_back_to_editing_the_placeholder(rig: SlackRig) -> None:
    rig.engine.partial = ["Refunds are possible [1]."]
    rig.event(mention("Refunds?"))
    updates = rig.api.wait_for("chat.update", 2)
    assert len(rig.api.of("chat.startStream")) == 1  # tried once, refused ("not_allowed")
    assert updates[0].params["text"] == "Refunds are possible [1]. …"
    assert rig.api.of("chat.stopStream") == [] and rig.api.of("chat.appendStream") == []


def test_an_assistant_thread_is_offered_the_suggested_prompts(streaming_rig: SlackRig) -> None:
    started = {"type": "assistant_thread_started", "assistant_thread": {
        "user_id": USER, "channel_id": "D1", "thread_ts": "1700000009.000100"}}
    assert streaming_rig.event(started, "Ev3") == 200
    prompts = streaming_rig.api.wait_for("assistant.threads.setSuggestedPrompts")[0].params
    assert (prompts["channel_id"], prompts["thread_ts"]) == ("D1", "1700000009.000100")
    assert prompts["prompts"] == [{"title": "How do refunds work?",
                                   "message": "How do refunds work?"}]


def test_opening_the_messages_tab_offers_the_suggested_prompts(streaming_rig: SlackRig) -> None:
    assert streaming_rig.event({"type": "app_home_opened", "user": USER, "channel": "D2",
                                "tab": "home"}, "Ev4") == 200
    assert streaming_rig.event({"type": "app_home_opened", "user": USER, "channel": "D2",
                                "tab": "messages"}, "Ev5") == 200
    calls = streaming_rig.api.wait_for("assistant.threads.setSuggestedPrompts")
    assert len(calls) == 1 and calls[0].params["channel_id"] == "D2"
    assert "thread_ts" not in calls[0].params  # an agent app's call would silently fail


def test_retries_and_duplicates_get_exactly_one_answer(rig: SlackRig) -> None:
    event = mention("Refunds?")
    assert rig.event(event, "Ev1") == 200
    assert rig.event(event, "Ev1", retry=1) == 200  # Slack retry: same event id
    assert rig.event(event, "Ev1") == 200  # plain duplicate delivery
    # the same message also arrives as a `message` event with another id
    rig.event({**event, "type": "message", "channel_type": "channel"}, "Ev1b")
    rig.api.wait_for("chat.update")
    time.sleep(0.5)
    assert len(rig.api.of("chat.postMessage")) == 1 and len(rig.api.of("chat.update")) == 1
    assert len(rig.engine.asked) == 1


def test_bad_and_stale_signatures_get_401(rig: SlackRig) -> None:
    body = json.dumps({"type": "event_callback", "event_id": "Ev7", "event": mention("hi")})
    assert rig.post(body, signed_headers("wrong-secret", body)) == 401
    stale = signed_headers(SECRET, body, timestamp=int(time.time()) - 6 * 60)
    assert rig.post(body, stale) == 401
    assert rig.engine.asked == []


def test_hostile_requests_get_4xx_and_one_log_line_each(
    rig: SlackRig, caplog: pytest.LogCaptureFixture
) -> None:
    unsigned = {"Content-Type": "application/json"}
    for body, headers in [("[{}]", unsigned), ("[" * 5000, unsigned),
                          ("{}", unsigned | {"X-Slack-Request-Timestamp": "abc",
                                             "X-Slack-Signature": "v0=1"})]:
        assert rig.post(body, headers) == 401
    for body in ("[{}]", "[" * 5000 + "]" * 5000, '{"event": []}', "{",
                 '{"type": "event_callback", "event": {"type": "reaction_added", "item": 7}}',
                 '{"type": "event_callback", "team_id": [], "event": {"type": "app_mention", '
                 '"user": true, "channel": "C1"}}', '{"type": "event_callback", "event": null}'):
        status = rig.post(body, signed_headers(SECRET, body))
        assert status in (200, 400), body[:20]  # refused, or acknowledged and ignored
    assert rig.post("{" + " " * (2 << 20) + "}", signed_headers(SECRET, "{}")) == 413
    assert "Traceback" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)
    assert rig.engine.asked == [] and rig.api.of("chat.postMessage") == []


def test_an_empty_mention_delivered_eight_times_gets_one_reply(rig: SlackRig) -> None:
    event = mention("")
    assert [rig.event(event, "Ev8", retry=k % 2) for k in range(8)] == [200] * 8
    rig.api.wait_for("chat.postMessage")
    time.sleep(0.5)  # a second reply would show up by now
    posts = rig.api.of("chat.postMessage")
    assert len(posts) == 1 and "type a question" in posts[0].params["text"]


def recorded(rig: SlackRig, channel: str, ts: str) -> None:
    """Wait until the posted answer's reference is stored (just after the message is edited)."""
    deadline = time.monotonic() + 10
    while rig.store.answer_by_ref("slack", f"{channel}:{ts}") is None:
        assert time.monotonic() < deadline, "the answer was never recorded"
        time.sleep(0.02)


def test_answers_carry_feedback_buttons_that_count_like_reactions(rig: SlackRig) -> None:
    rig.event(mention("Refunds?"))
    final = rig.api.wait_for("chat.update")[0].params
    blocks = json.loads(final["blocks"]) if isinstance(final["blocks"], str) else final["blocks"]
    assert [b["type"] for b in blocks] == ["section", "context_actions", "actions"]
    assert blocks[1]["elements"][0]["type"] == "feedback_buttons"
    channel, ts = final["channel"], final["ts"]
    recorded(rig, channel, ts)
    assert rig.click("feedback", "+1", USER, channel, ts) == 200
    assert rig.click("feedback", "-1", USER, channel, ts) == 200  # the latest click wins
    rig.event({"type": "reaction_added", "user": USER, "reaction": "-1", "item_user": BOT_USER_ID,
               "item": {"type": "message", "channel": channel, "ts": ts}}, "Ev2")
    time.sleep(0.3)
    votes = rig.store.list_feedback()
    assert [(v.user, v.reaction, v.score) for v in votes] == [(USER, "-1", -1)]  # counted once
    assert rig.click("feedback", "evil", USER, channel, ts) == 200  # odd values: ignored
    assert len(rig.store.list_feedback()) == 1


def test_talk_to_a_human_is_recorded_and_answered_in_the_thread(rig: SlackRig) -> None:
    rig.event(mention("Refunds?"))
    final = rig.api.wait_for("chat.update")[0].params
    recorded(rig, final["channel"], final["ts"])
    assert rig.click("handoff", "handoff", USER, final["channel"], final["ts"]) == 200
    reply = rig.api.wait_for("chat.postMessage", 2)[1].params
    assert "support team to follow up" in reply["text"] and reply["thread_ts"] == "t0"
    [handoff] = rig.store.handoffs()
    assert (handoff.user, handoff.platform) == (USER, "slack")
    assert handoff.message_id is not None
    assert handoff.message_id == rig.store.answer_by_ref("slack", f"{final['channel']}:"
                                                         f"{final['ts']}")


def test_non_admin_refresh_is_refused_and_recorded(rig: SlackRig) -> None:
    status, text = rig.command(USER, "refresh")
    assert status == 200 and "only knowledge-base admins" in text
    assert rig.admin.refreshed == []
    actions = rig.store.admin_actions()
    assert [(a.user, a.action, a.allowed) for a in actions] == [(USER, "refresh", False)]


def test_admin_refresh_posts_result_to_response_url(rig: SlackRig) -> None:
    status, text = rig.command(ADMIN, "refresh")
    assert status == 200 and "in the background" in text
    posted = rig.api.wait_for("respond/r1")[0].params
    assert posted["text"] == "Knowledge refreshed: 3 documents."
    assert rig.admin.refreshed == [f"slack:{ADMIN}"]


def test_thumbs_up_then_removal_adds_then_removes_feedback(rig: SlackRig) -> None:
    rig.event(mention("Refunds?"))
    update = rig.api.wait_for("chat.update")[0].params
    deadline = time.monotonic() + 5
    while rig.store.answer_by_ref("slack", f"C1:{update['ts']}") is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    reaction = {"type": "reaction_added", "user": USER, "reaction": "+1",
                "item_user": BOT_USER_ID, "item": {"type": "message", "channel": "C1",
                                                   "ts": update["ts"]}}
    rig.event(reaction, "Ev3")
    deadline = time.monotonic() + 5
    while not rig.store.list_feedback():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    row = rig.store.list_feedback()[0]
    assert (row.user, row.score, row.question) == (USER, 1, "Refunds?")
    rig.event({**reaction, "type": "reaction_removed"}, "Ev4")
    deadline = time.monotonic() + 5
    while rig.store.list_feedback():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_rate_limited_web_api_is_retried_after_retry_after(rig: SlackRig) -> None:
    rig.api.rate_limit_next(1)
    started = time.monotonic()
    rig.event(mention("Refunds?"))
    rig.api.wait_for("chat.update")
    assert time.monotonic() - started >= 1.0  # waited Retry-After before retrying
    assert len(rig.api.of("chat.postMessage")) == 1


def test_kb_train_is_admin_only_and_posts_the_gate_result(rig: SlackRig) -> None:
    status, text = rig.command(USER, "train")
    assert status == 200 and "only knowledge-base admins can train" in text
    status, text = rig.command(ADMIN, "train")
    assert status == 200 and "Training a new adapter" in text
    posted = rig.api.wait_for("respond/r1")[0].params
    assert posted["text"] == "Training finished: adapter v-test promoted."
    assert rig.admin.trained == [f"slack:{ADMIN}"]
