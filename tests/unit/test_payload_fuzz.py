"""Property tests: the payload translators and the Slack HTTP gate survive any input shape.

Translators either translate or ignore (``None``); Slack's endpoint answers every request with
a 4xx or hands a signed, well-formed body to bolt — never an exception.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt import BoltRequest, BoltResponse
from starlette.testclient import TestClient

from bot.adapters.discord_payloads import (
    message_from_view,
    reaction_from_payload,
    view_from_payload,
)
from bot.adapters.slack_http import PATH, RejectLog, SlackEndpoint, slack_app
from bot.adapters.slack_payloads import admin_from_command, message_from_event, reaction_from_event
from bot.core.types import IncomingMessage, ReactionEvent
from bot.testing.fake_slack import signed_headers

SECRET = "fuzz-secret"
NOW = 1_700_000_000
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=12)
KEYS = st.sampled_from(["type", "user", "channel", "ts", "thread_ts", "text", "item",
                        "item_user", "reaction", "subtype", "bot_id", "channel_type", "id",
                        "channel_id", "guild_id", "author", "content", "mentions", "user_id",
                        "message_id", "emoji", "event", "payload"])
payloads = st.dictionaries(KEYS, json_values | st.sampled_from(["UBOT", "message", "C1", "1"]),
                           max_size=10)
FEW = settings(max_examples=300, deadline=None)


@FEW
@given(payloads)
def test_slack_translators_translate_or_ignore(event: dict[str, Any]) -> None:
    msg = message_from_event(event, "UBOT", lambda c, t: True)
    assert msg is None or (isinstance(msg, IncomingMessage) and msg.user and msg.channel)
    reaction = reaction_from_event(event, "UBOT")
    assert reaction is None or isinstance(reaction, ReactionEvent)
    assert admin_from_command(event).platform == "slack"


@FEW
@given(payloads)
def test_discord_translators_translate_or_ignore(data: dict[str, Any]) -> None:
    view = view_from_payload(data)
    if view is not None:
        msg = message_from_view(view, "1", lambda c: True)
        assert msg is None or msg.event_id == f"discord:{view.id}"
    reaction = reaction_from_payload(data, True, "1")
    assert reaction is None or reaction.message_ref.isdigit()


STATUS = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized",
          404: "404 Not Found", 405: "405 Method Not Allowed", 413: "413 Content Too Large"}


def call(gate: TestClient, body: bytes, headers: dict[str, str], path: str = PATH,
         method: str = "POST") -> tuple[str, bytes]:
    headers.setdefault("Content-Type", "application/json")
    raw = {k.encode(): v.encode() for k, v in headers.items()}  # as sent: bytes, whatever they hold
    response = gate.request(method, path, content=body, headers=raw)
    return STATUS.get(response.status_code, str(response.status_code)), response.content


def reached(inner: list[bytes]) -> Any:
    def dispatch(request: BoltRequest) -> BoltResponse:
        inner.append(request.raw_body.encode())
        return BoltResponse(status=200, body="")
    return dispatch


def gate_over(inner: list[bytes]) -> TestClient:
    endpoint = SlackEndpoint(reached(inner), SECRET, clock=lambda: NOW,
                             reject_log=RejectLog(burst=0))
    return TestClient(slack_app(endpoint))


@FEW
@given(st.binary(max_size=300), st.booleans())
def test_any_signed_bytes_are_handed_on_or_refused_with_400(body: bytes, as_json: bool) -> None:
    inner: list[bytes] = []
    headers = signed_headers(SECRET, "", NOW)  # replaced below: the signature is over bytes
    headers["X-Slack-Signature"] = _sign(body)
    headers["Content-Type"] = "application/json" if as_json else (
        "application/x-www-form-urlencoded")
    status, _ = call(gate_over(inner), body, headers)
    assert status in ("200 OK", "400 Bad Request")
    assert (status == "200 OK") == (inner == [body])


@FEW
@given(json_values | st.binary(max_size=50), st.text(max_size=20).filter(lambda t: t != str(NOW)))
def test_unsigned_or_badly_signed_requests_get_401(value: Any, timestamp: str) -> None:
    body = value if isinstance(value, bytes) else json.dumps(value).encode()
    inner: list[bytes] = []
    for headers in ({}, {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=00"},
                    {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": _sign(body)},
                    {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": timestamp}):
        assert call(gate_over(inner), body, dict(headers))[0] == "401 Unauthorized"
    assert inner == []


def test_signed_event_reaches_bolt_and_hostile_shapes_do_not() -> None:
    inner: list[bytes] = []
    gate = gate_over(inner)
    good = json.dumps({"type": "event_callback", "event": {"type": "app_mention"}}).encode()
    deep = b"[" * 5000 + b"]" * 5000
    cases = {good: "200 OK", b"[{}]": "400 Bad Request", deep: "400 Bad Request",
             b"\xff\xfe{}": "400 Bad Request", b'{"event": []}': "400 Bad Request",
             b'{"type": 1}': "400 Bad Request", b"{": "400 Bad Request",
             b'{"event": null}': "400 Bad Request",  # shapes bolt's routing raises on
             b'{"event": {"type": "app_mention", "user": true}}': "400 Bad Request",
             b'{"event": {"type": "x", "channel": 0.5}}': "400 Bad Request",
             b'{"authorizations": "abc"}': "400 Bad Request"}
    for body, expected in cases.items():
        headers = {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": _sign(body)}
        assert call(gate, body, headers)[0] == expected, body[:20]
    assert inner == [good]
    assert call(gate, good, {}, path="/other")[0] == "404 Not Found"
    # a form body opening on "{" is JSON to bolt (hypothesis found b"{=": a 500 before)
    form = {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": _sign(b"{="),
            "Content-Type": "application/x-www-form-urlencoded"}
    assert call(gate, b"{=", form)[0] == "400 Bad Request"
    assert call(gate, b"", {}, method="GET")[0] == "405 Method Not Allowed"
    stale = {"X-Slack-Request-Timestamp": str(NOW - 301), "X-Slack-Signature": _sign(good)}
    assert call(gate, good, stale)[0] == "401 Unauthorized"


def test_refusals_are_logged_a_few_at_a_time(caplog: Any) -> None:
    clock = [0.0]
    limited = RejectLog(burst=2, window=60, clock=lambda: clock[0])
    logged = [limited("401 Unauthorized", "unsigned request") for _ in range(5)]
    clock[0] = 61.0
    assert logged == [True, True, False, False, False]
    assert limited("401 Unauthorized", "unsigned request")
    last = caplog.records[-1].getMessage()
    assert "(+3 more not logged)" in last and len(last) < 300
    assert all(r.exc_info is None for r in caplog.records)


def _sign(body: bytes) -> str:
    import hashlib
    import hmac

    digest = hmac.new(SECRET.encode(), f"v0:{NOW}:".encode() + body, hashlib.sha256)
    return "v0=" + digest.hexdigest()
