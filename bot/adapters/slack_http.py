"""Slack's HTTP endpoint, checked before anything parses the request.

``SlackEndpoint`` (ASGI) reads the raw body (bounded), verifies Slack's signature on those
bytes, and only then looks inside; bolt's ``App.dispatch`` gets what passed, and a body bolt
could not handle is refused with a 4xx, so client input never reaches a 5xx or a traceback.
The web console's server mounts it; ``slack_app`` serves it alone when the console is off.
Every refusal is one short log line, and at most ``LOG_BURST`` of them per ``LOG_WINDOW``
seconds (the rest are counted and summarised), so nobody who can reach the port can fill
the log.

    unsigned, stale, bad signature or malformed signature headers → 401
    signed, but not UTF-8, not JSON / form, not an object, or too deep → 400
    not POST /slack/events → 404 / 405; over ``MAX_BODY`` → 413
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import BoltRequest, BoltResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

PATH = "/slack/events"
MAX_BODY = 1 << 20  # Slack's largest payloads (modal views) are well under 1 MiB
DRAIN_LIMIT = 16 << 20  # an oversized body up to this size is read and dropped before the 413
MAX_SKEW = 300  # seconds: Slack's own replay window for X-Slack-Request-Timestamp
MAX_DEPTH = 32  # JSON nesting deeper than any Slack payload is refused before json parses it
LOG_BURST, LOG_WINDOW = 5, 60.0


class Rejected(Exception):
    """A request refused with ``status`` and a short ``reason`` (logged, and sent back)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class RejectLog:
    """One log line per refused request, at most ``burst`` per ``window`` seconds; the rest
    are counted and reported in the next line (a tiny limiter the logging module lacks)."""

    def __init__(self, burst: int = LOG_BURST, window: float = LOG_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.window, self.clock = burst, window, clock
        self._start, self._count, self._suppressed = clock(), 0, 0
        self._lock = threading.Lock()

    def __call__(self, status: str, reason: str) -> bool:
        """Log one refusal; ``False`` when it was only counted."""
        with self._lock:
            now = self.clock()
            if now - self._start >= self.window:
                self._start, self._count = now, 0
            if self._count >= self.burst:
                self._suppressed += 1
                return False
            self._count += 1
            suppressed, self._suppressed = self._suppressed, 0
        more = f" (+{suppressed} more not logged)" if suppressed else ""
        log.warning("slack http: refused %s: %s%s", status.split()[0], reason[:80], more)
        return True


def signature_ok(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Slack's v0 signature over the raw bytes. Hand-written because slack_sdk's verifier
    decodes the body as UTF-8 and parses the timestamp first, raising on hostile input."""
    expected = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest("v0=" + expected.hexdigest(), signature)


def check_signature(headers: Mapping[str, str], body: bytes, secret: bytes,
                    now: float) -> None:
    timestamp = headers.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = headers.get("HTTP_X_SLACK_SIGNATURE", "")
    if not timestamp or not signature:
        raise Rejected("401 Unauthorized", "unsigned request")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Rejected("401 Unauthorized", "malformed X-Slack-Request-Timestamp")
    if abs(now - int(timestamp)) > MAX_SKEW:
        raise Rejected("401 Unauthorized", "stale X-Slack-Request-Timestamp")
    if not signature.isascii() or not signature_ok(secret, timestamp, body, signature):
        raise Rejected("401 Unauthorized", "bad X-Slack-Signature")


def check_body(content_type: str, body: bytes) -> None:
    """Raise ``Rejected`` (400) unless ``body`` is something bolt can route safely."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("400 Bad Request", "body is not UTF-8") from None
    if content_type.startswith("application/json") or text.startswith("{"):
        # bolt reads any body opening on "{" as JSON, whatever its content type
        _check_shape(_json_object(text, "body"), "body")
    elif content_type.startswith("application/x-www-form-urlencoded"):
        try:
            form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
        except ValueError:
            raise Rejected("400 Bad Request", "malformed form body") from None
        if "payload" in form:
            _check_shape(_json_object(form["payload"][0], "payload"), "payload")
    else:
        raise Rejected("400 Bad Request", f"unsupported content type {content_type[:40]!r}")


def _json_object(text: str, what: str) -> dict[str, Any]:
    if _depth(text) > MAX_DEPTH:
        raise Rejected("400 Bad Request", f"{what} nests too deeply")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Rejected("400 Bad Request", f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Rejected("400 Bad Request", f"{what} is not a JSON object")
    return value


# What bolt reads while routing (slack_bolt.request.internals): ids that must be a string or an
# object, objects it descends into, and "authorizations", a list of objects. Any other shape
# makes bolt raise or answer 500, so it is refused here.
_IDS = ("user", "channel", "team", "enterprise")
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread", "view")


def _check_shape(value: dict[str, Any], where: str, depth: int = 0) -> None:
    if not isinstance(value.get("type", ""), str | None):
        raise Rejected("400 Bad Request", f"{where}.type is not a string")
    for key in _IDS:
        if not isinstance(value.get(key), str | dict | None):
            raise Rejected("400 Bad Request", f"{where}.{key} is neither a string nor an object")
    grants = value.get("authorizations")
    if grants is not None and not (isinstance(grants, list)
                                   and all(isinstance(g, dict) for g in grants)):
        raise Rejected("400 Bad Request", f"{where}.authorizations is not a list of objects")
    if "event" in value and not isinstance(value["event"], dict):
        raise Rejected("400 Bad Request", f"{where}.event is not an object")
    for key in _NESTED:
        inner = value.get(key)
        if isinstance(inner, dict) and depth < 2:
            _check_shape(inner, f"{where}.{key}", depth + 1)


def _depth(text: str) -> int:
    """Bracket depth outside strings, an upper bound on the JSON nesting (linear scan)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class SlackEndpoint:
    """``POST /slack/events`` (ASGI): only signed, well-formed requests reach ``dispatch``
    (bolt's ``App.dispatch``, run in a worker thread); anything bolt fails on is a 400.

    bolt's own Starlette adapter (``slack_bolt.adapter.starlette``) calls ``dispatch`` on the
    event loop, which would stall the console's other requests while bolt runs a listener;
    this does what it does (``BoltRequest`` in, ``BoltResponse`` out) off the loop."""

    def __init__(self, dispatch: Callable[[BoltRequest], BoltResponse], signing_secret: str,
                 clock: Callable[[], float] = time.time,
                 reject_log: RejectLog | None = None) -> None:
        self.dispatch, self.secret, self.clock = dispatch, signing_secret.encode(), clock
        self.reject_log = reject_log or RejectLog()

    async def handle(self, request: Request) -> Response:
        try:
            body = await self._checked(request)
        except Rejected as refused:
            return self._refuse(refused.status, refused.reason)
        try:
            bolt_request = BoltRequest(body=body.decode("utf-8"), query=request.url.query,
                                       headers=dict(request.headers))
            answered = await run_in_threadpool(self.dispatch, bolt_request)
        except Exception:  # noqa: BLE001 - what bolt cannot handle is a bad request
            return self._refuse("400 Bad Request", "bolt could not handle it (raised)")
        if answered.status >= 500:  # bolt failed on this body: the client's input, not us
            return self._refuse("400 Bad Request", f"bolt could not handle it ({answered.status})")
        return Response(answered.body, answered.status,
                        headers=answered.first_headers_without_set_cookie())

    def _refuse(self, status: str, reason: str) -> Response:
        self.reject_log(status, reason)
        if reason.startswith("bolt could not"):
            reason = "request could not be handled"
        return PlainTextResponse(f"{reason}\n", status_code=int(status[:3]))

    async def _checked(self, request: Request) -> bytes:
        length = request.headers.get("content-length", "0")
        if not (length.isascii() and length.isdigit()):
            raise Rejected("400 Bad Request", "malformed Content-Length")
        body = bytearray()
        if int(length) <= MAX_BODY:
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    break
        if int(length) > MAX_BODY or len(body) > MAX_BODY:
            await _drain(request)  # so the client reads its 413 instead of a reset
            raise Rejected("413 Content Too Large", "body over 1 MiB")
        headers = {"HTTP_X_SLACK_REQUEST_TIMESTAMP":
                   request.headers.get("x-slack-request-timestamp", ""),
                   "HTTP_X_SLACK_SIGNATURE": request.headers.get("x-slack-signature", "")}
        check_signature(headers, bytes(body), self.secret, self.clock())
        check_body(request.headers.get("content-type", ""), bytes(body))
        return bytes(body)


async def _drain(request: Request) -> None:
    """Read and drop what is left of an oversized body, up to ``DRAIN_LIMIT``."""
    read = 0
    try:
        async for chunk in request.stream():
            read += len(chunk)
            if read > DRAIN_LIMIT:
                return
    except Exception:  # noqa: BLE001 - the client went away or the stream was consumed
        return


def slack_app(endpoint: SlackEndpoint) -> Starlette:
    """An ASGI app with only ``POST /slack/events`` (Slack's HTTP mode without the console);
    any other path is a 404, any other method a 405."""
    return Starlette(routes=[Route(PATH, endpoint.handle, methods=["POST"])])


