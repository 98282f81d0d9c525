"""``bot.web.server.AsgiServer``: the socket is bound before serving (port 0 = a free port),
responses are not held back by Nagle's algorithm, and ``close`` stops it."""

from __future__ import annotations

import statistics
import threading
import time

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.web.server import AsgiServer


def test_a_bound_server_answers_at_once_and_stops_on_close() -> None:
    app = Starlette(routes=[Route("/ping", lambda _request: PlainTextResponse("pong"))])
    server = AsgiServer(app, "127.0.0.1", 0)
    server.bind()
    assert server.port > 0
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
        times = []
        for _ in range(15):
            started = time.perf_counter()
            assert client.get("/ping").text == "pong"
            times.append(time.perf_counter() - started)
    # with Nagle on (a socket not marked TCP), each response waited ~40 ms for a delayed ACK
    assert statistics.median(times) < 0.02
    server.close()
    thread.join(10)
    assert not thread.is_alive()
