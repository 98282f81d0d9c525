"""Serving an ASGI app with uvicorn from a thread: ``run`` blocks, ``close`` stops it.

The socket is bound before ``run`` serves, so ``port`` is known (port 0 = any free one) and a
connection made meanwhile waits in the listen backlog instead of being refused.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import uvicorn

log = logging.getLogger(__name__)
BACKLOG = 128  # a burst of Slack retries must not meet a full backlog (bench_slack.py)


class AsgiServer:
    def __init__(self, app: Any, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self.server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self.bound = threading.Event()

    def bind(self) -> None:
        """Bind and listen now (``run`` does it if nobody did)."""
        if self._socket is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
        # they are TCP; without it every response waited ~40 ms for a delayed ACK
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(BACKLOG)
        self._socket, self.port = sock, int(sock.getsockname()[1])
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off",
                                access_log=False, backlog=BACKLOG, timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.bound.set()

    def run(self) -> None:
        self.bind()
        assert self.server is not None and self._socket is not None
        self.server.run(sockets=[self._socket])

    def close(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
