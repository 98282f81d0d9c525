"""``supportbot serve``: every platform whose credentials are configured, in one process.

Each adapter runs in a thread of its own; the first one to fail with a ``SupportbotError``
(a bad token, a missing intent) stops the others and its message is what the user sees.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from bot.errors import SupportbotError
from bot.runtime import Runtime

log = logging.getLogger(__name__)


class Adapter(Protocol):
    def run(self) -> None: ...

    def close(self) -> None: ...


def configured_adapters(runtime: Runtime) -> list[Adapter]:
    s, adapters = runtime.settings, list[Adapter]()
    if s.slack_bot_token.get_secret_value():
        from bot.adapters.slack import SlackAdapter

        adapters.append(SlackAdapter(
            runtime.router, runtime.pool, bot_token=s.slack_bot_token.get_secret_value(),
            signing_secret=s.slack_signing_secret.get_secret_value(),
            app_token=s.slack_app_token.get_secret_value(), mode=s.slack_mode,
            host=s.slack_host, port=s.slack_port, api_url=s.slack_api_url,
            command=s.slack_command,
        ))
    if s.discord_token.get_secret_value():
        from bot.adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(runtime.router, runtime.pool,
                                       s.discord_token.get_secret_value()))
    return adapters


def run_all(adapters: list[Adapter]) -> None:
    """Run until every adapter stops, Ctrl-C, or one fails (then all stop and it is raised)."""
    failure: list[BaseException] = []
    stopped = threading.Event()

    def target(adapter: Adapter) -> None:
        try:
            adapter.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failure.append(exc)
        finally:
            stopped.set()

    threads = [threading.Thread(target=target, args=(a,), daemon=True) for a in adapters]
    for thread in threads:
        thread.start()
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        log.warning("stopping")
    finally:
        for adapter in adapters:
            _close_quietly(adapter)
    if failure:
        raise failure[0]


def _close_quietly(adapter: Any) -> None:
    try:
        adapter.close()
    except SupportbotError:
        raise
    except Exception as exc:  # noqa: BLE001 - shutting down anyway
        log.debug("close failed: %r", exc)
