"""A fake Slack Web API on loopback, and Slack request signing, for tests and benchmarks.

Point the bot at it with ``SLACK_API_URL=http://127.0.0.1:<port>/api/``. It answers the Web
API methods supportbot uses, records every call, and serves ``/respond/<id>`` as a slash
command's ``response_url``. ``rate_limit_next(n)`` makes the next ``n`` calls answer HTTP 429
with ``Retry-After: 1``. Messages posted in a thread (and those a test adds with
``add_message``, as if a person wrote them) are what ``conversations.replies`` returns;
``chat.getPermalink`` answers a link made of the channel and ts.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER_ID = "UBOT0001"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections when a benchmark bursts


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)  # when the call arrived


def signed_headers(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send with ``body``: HMAC-SHA256 over ``v0:ts:body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/json"}


class FakeSlackAPI:
    """``streaming``: chat.startStream/appendStream/stopStream work (else "not_allowed", as in
    a workspace without them); ``assistant``: assistant.threads.setStatus works (else
    "invalid_thread", as outside an assistant thread)."""

    def __init__(self, streaming: bool = False, assistant: bool = False) -> None:
        self.streaming, self.assistant = streaming, assistant
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._limited = 0
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (channel, thread_ts)
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"http://127.0.0.1:{self.server.server_port}/respond/{name}"

    def __enter__(self) -> FakeSlackAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def rate_limit_next(self, count: int) -> None:
        self._limited = count

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{method} called {len(self.of(method))} times, wanted {count}")

    def add_message(self, channel: str, thread_ts: str, user: str, text: str) -> dict[str, Any]:
        """A person's message in a thread (what ``conversations.replies`` returns); the event
        Slack would send for it is the test's to deliver."""
        message = {"type": "message", "user": user, "text": text, "thread_ts": thread_ts,
                   "ts": f"1700000000.{next(self._ts):06d}"}
        with self._lock:
            self.threads.setdefault((channel, thread_ts), []).append(message)
        return message

    def _record(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(Call(method, params))
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts", "")).replace(".", "")
            return {"ok": True, "channel": params.get("channel"),
                    "permalink": f"https://fake.slack.com/archives/{params.get('channel')}/p{ts}"}
        if method == "conversations.replies":
            with self._lock:
                found = list(self.threads.get((str(params.get("channel")),
                                               str(params.get("ts"))), []))
            return {"ok": True, "messages": found, "has_more": False}
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER_ID, "bot_id": "BBOT0001", "team_id": "T1"}
        if method.startswith("chat.") and method.endswith("Stream") and not self.streaming:
            return {"ok": False, "error": "not_allowed"}
        if method == "assistant.threads.setStatus" and not self.assistant:
            return {"ok": False, "error": "invalid_thread"}
        if method in ("chat.postMessage", "chat.update", "chat.startStream",
                      "chat.appendStream", "chat.stopStream"):
            ts = params.get("ts") or f"1700000000.{next(self._ts):06d}"
            thread = params.get("thread_ts")
            if method == "chat.postMessage" and thread:
                with self._lock:
                    self.threads.setdefault((str(params.get("channel")), str(thread)), []).append(
                        {"type": "message", "user": BOT_USER_ID, "bot_id": "BBOT0001",
                         "text": params.get("text", ""), "thread_ts": thread, "ts": ts})
            return {"ok": True, "channel": params.get("channel"), "ts": ts}
        return {"ok": True}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if fake._limited > 0:
                    fake._limited -= 1
                    self._reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
                    return
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(parse_qsl(raw))
                method = self.path.split("/api/")[-1] if "/api/" in self.path else self.path
                self._reply(200, fake._record(method.strip("/"), params))

            def _reply(self, status: int, body: dict[str, Any],
                       headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
