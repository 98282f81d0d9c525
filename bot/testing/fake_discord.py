"""A fake Discord REST API on loopback, for driving the real discord.py client in tests.

Set ``discord.http.Route.BASE = fake.url``; ``Client.login`` then talks to this server, and
gateway events are fed in as recorded payloads through the client's own parser
(``client._connection.parse_message_create(payload)``), so the handlers receive real
``discord.Message`` objects. Every REST call is recorded. Messages posted to a channel (and
those a test adds with ``add_message``, as if a person wrote them) are its history
(``GET /channels/<id>/messages``, newest first).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT_ID = "999000000000000001"
APP_ID = "555000000000000001"
BOT_USER = {"id": BOT_ID, "username": "supportbot", "discriminator": "0", "avatar": None,
            "bot": True, "global_name": None}
STAMP = "2026-01-01T00:00:00.000000+00:00"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections when a benchmark bursts


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any]


class FakeDiscordAPI:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._ids = itertools.count(700000000000000001)
        self._lock = threading.Lock()
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel id → messages, oldest first
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/v10"

    def __enter__(self) -> FakeDiscordAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def matching(self, method: str, pattern: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and re.search(pattern, c.path)]

    def wait_for(self, method: str, pattern: str, count: int = 1,
                 timeout: float = 30.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(method, pattern)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{method} {pattern}: {len(self.matching(method, pattern))} calls")

    def message(self, channel_id: str, content: str) -> dict[str, Any]:
        return {"id": str(next(self._ids)), "channel_id": channel_id, "content": content,
                "author": BOT_USER, "type": 0, "timestamp": STAMP, "edited_timestamp": None,
                "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
                "attachments": [], "embeds": [], "pinned": False, "flags": 0}

    def add_message(self, channel_id: str, author_id: str, content: str) -> dict[str, Any]:
        """A person's message in a channel's history; the gateway event for it is the test's
        to feed in."""
        author = {"id": author_id, "username": f"user{author_id[-4:]}", "discriminator": "0",
                  "avatar": None, "bot": False, "global_name": None}
        message = self.message(channel_id, content) | {"author": author}
        with self._lock:
            self.history.setdefault(channel_id, []).append(message)
        return message

    def _posted(self, channel_id: str, content: str) -> dict[str, Any]:
        message = self.message(channel_id, content)
        with self._lock:
            self.history.setdefault(channel_id, []).append(message)
        return message

    def _respond(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            self.calls.append(Call(method, path, body))
        if path.endswith("/users/@me"):
            return 200, BOT_USER
        if path.endswith("/oauth2/applications/@me"):
            return 200, {"id": APP_ID, "name": "supportbot", "description": "", "icon": None,
                         "bot_public": True, "bot_require_code_grant": False,
                         "verify_key": "0" * 64, "owner": BOT_USER, "flags": 0}
        if path.endswith("/commands"):
            return 200, []
        if callback := re.search(r"/interactions/(\d+)/[^/]+/callback$", path):
            return 200, {"interaction": {"id": callback.group(1), "type": 2,
                                         "response_message_loading": True,
                                         "response_message_ephemeral": True}}
        if thread := re.search(r"/channels/(\d+)/messages/\d+/threads$", path):
            return 200, {"id": str(next(self._ids)), "type": 11, "guild_id": body.get("_guild"),
                         "parent_id": thread.group(1), "name": body.get("name", "thread"),
                         "owner_id": BOT_ID, "message_count": 0, "member_count": 1,
                         "rate_limit_per_user": 0,
                         "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                             "archive_timestamp": STAMP, "locked": False}}
        if method == "PATCH" and (edited := re.search(r"/channels/(\d+)/messages/(\d+)$",
                                                       path)):
            message = self.message(edited.group(1), str(body.get("content", "")))
            return 200, message | {"id": edited.group(2), "edited_timestamp": STAMP}
        if method == "GET" and (read := re.search(r"/channels/(\d+)/messages$", path)):
            with self._lock:
                return 200, list(reversed(self.history.get(read.group(1), [])))
        if posted := re.search(r"/channels/(\d+)/messages$", path):
            return 200, self._posted(posted.group(1), str(body.get("content", "")))
        if re.search(r"/webhooks/\d+/[^/]+$", path):
            return 200, self.message("0", str(body.get("content", "")))
        return 204, None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:  # multipart uploads: keep the raw text
                    body = {"raw": raw.decode(errors="replace")}
                status, payload = fake._respond(self.command, self.path.split("?")[0], body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

        return Handler
