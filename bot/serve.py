"""``supportbot serve``: every platform whose credentials are configured, in one process.

Each adapter runs in a thread of its own; the first one to fail with a ``SupportbotError``
(a bad token, a missing intent) stops the others and its message is what the user sees.
SIGTERM or SIGINT (Ctrl-C) stops gracefully: new questions are told to ask again, the answers
in flight finish and are posted (for up to ``SHUTDOWN_GRACE`` seconds), then the adapters
close, one line says so, and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.runtime import Runtime
from knowledge.errors import SupportbotError

log = logging.getLogger(__name__)


class Adapter(Protocol):
    def run(self) -> None: ...

    def close(self) -> None: ...


def configured_adapters(runtime: Runtime) -> list[Adapter]:
    """The web console (unless ``WEB_ENABLED=false``) and every platform with credentials."""
    s, adapters = runtime.settings, list[Adapter]()
    slack = None
    if s.slack_bot_token.get_secret_value():
        from bot.adapters.slack import SlackAdapter

        slack = SlackAdapter(
            runtime.router, runtime.pool, bot_token=s.slack_bot_token.get_secret_value(),
            signing_secret=s.slack_signing_secret.get_secret_value(),
            app_token=s.slack_app_token.get_secret_value(), mode=s.slack_mode,
            host=s.slack_host, port=s.slack_port, api_url=s.slack_api_url,
            command=s.slack_command, streaming=s.slack_streaming,
            prompts=tuple(p.strip() for p in s.slack_suggested_prompts.split("|") if p.strip()),
            listen=not s.web_enabled,  # with the console, its server takes /slack/events
            handoff_channel=s.handoff_slack_channel, handoff_mention=s.handoff_slack_mention,
        )
        adapters.append(slack)
    if s.discord_token.get_secret_value():
        from bot.adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(runtime.router, runtime.pool,
                                       s.discord_token.get_secret_value(),
                                       s.handoff_discord_channel, s.handoff_discord_mention))
    if s.web_enabled:
        adapters.insert(0, WebAdapter(runtime, slack.endpoint if slack is not None else None))
    return adapters


class WebAdapter:
    """The console's server (``bot.web``) as one of ``run_all``'s adapters."""

    def __init__(self, runtime: Runtime, slack_endpoint: Any | None = None) -> None:
        from bot.console_ops import RuntimeOps
        from bot.web.app import WebDeps, create_app
        from bot.web.security import secret_key
        from bot.web.server import AsgiServer

        s = runtime.settings
        deps = WebDeps(store=runtime.store, router=runtime.router, pool=runtime.pool,
                       ready=lambda: readiness(runtime),
                       secret_key=secret_key(s.web_secret_key.get_secret_value(),
                                             s.supportbot_home),
                       public_chat=s.web_public_chat, secure_cookies=s.web_secure_cookies,
                       answer_timeout=s.generation_timeout + 5, slack=slack_endpoint,
                       settings=s.masked(), ops=RuntimeOps(runtime))
        self.server = AsgiServer(create_app(deps), s.web_host, s.web_port)

    @property
    def url(self) -> str:
        host = self.server.host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.server.port}"

    def run(self) -> None:
        self.server.run()

    def close(self) -> None:
        self.server.close()


def readiness(runtime: Runtime) -> str | None:
    """Why the bot cannot answer yet (``/readyz``), or ``None``."""
    try:
        runtime.store.admin_count()
    except Exception as exc:  # noqa: BLE001 - reported, whatever the driver raised
        return f"the database is unreachable ({type(exc).__name__})"
    if runtime.kb.current_name() is None:
        return "no knowledge index yet — run `supportbot ingest PATH`"
    return None


@dataclass
class Drain:
    """What a graceful stop waits for: the router stops accepting, the pool drains."""

    router: Router
    pool: AnswerPool
    grace: float = 30.0


def run_all(adapters: list[Adapter], drain: Drain | None = None) -> None:
    """Run until every adapter stops, a stop signal, or one fails (then all stop and it is
    raised). On SIGTERM/SIGINT the answers in flight finish first (``drain``)."""
    failure: list[BaseException] = []
    stopped = threading.Event()
    received: list[str] = []

    def target(adapter: Adapter) -> None:
        try:
            adapter.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failure.append(exc)
        finally:
            stopped.set()

    threads = [threading.Thread(target=target, args=(a,), daemon=True) for a in adapters]
    with _stop_signals(received, stopped):
        for thread in threads:
            thread.start()
        while not stopped.wait(0.5):
            pass
    try:
        if received and drain is not None:
            _drain(received[0], drain)
    finally:
        for adapter in adapters:
            _close_quietly(adapter)
    if failure and not received:
        raise failure[0]


def _drain(signal_name: str, drain: Drain) -> None:
    drain.router.stop_accepting()
    started, waiting = time.monotonic(), drain.pool.active
    left = drain.pool.drain(drain.grace)
    sys.stderr.write(
        f"Stopping on {signal_name}: {waiting - left} answer(s) in flight finished"
        + (f", {left} abandoned after {drain.grace:g} s (SHUTDOWN_GRACE)" if left else "")
        + f" in {time.monotonic() - started:.1f} s.\n")


@contextmanager
def _stop_signals(received: list[str], stopped: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stopped`` (and record their name) while inside."""
    def handler(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stopped.set()

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: nothing to install here
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _close_quietly(adapter: Any) -> None:
    try:
        adapter.close()
    except SupportbotError:
        raise
    except Exception as exc:  # noqa: BLE001 - shutting down anyway
        log.debug("close failed: %r", exc)
