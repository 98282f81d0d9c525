"""``supportbot serve`` stops gracefully: SIGTERM lets the answers in flight finish first."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from bot.core.limits import AnswerPool
from bot.core.router import RESTARTING, Router
from bot.core.types import IncomingMessage
from bot.serve import Drain, run_all
from bot.storage import Store
from tests.fakes import FakeEngine


class BlockingAdapter:
    """Runs until closed, like a platform adapter; records the order of events."""

    def __init__(self, events: list[str]) -> None:
        self.events, self._closed = events, threading.Event()

    def run(self) -> None:
        self._closed.wait(30)

    def close(self) -> None:
        self.events.append("closed")
        self._closed.set()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_finishes_the_answers_in_flight_then_closes(
    store: Store, capsys: pytest.CaptureFixture[str], signum: int
) -> None:
    events: list[str] = []
    pool, router = AnswerPool(2, 8, 30), Router(store, FakeEngine())

    def slow_answer() -> str:
        time.sleep(0.8)
        return "answer"

    assert pool.submit(slow_answer, on_done=lambda _r: events.append("posted"),
                       on_timeout=lambda: None, on_error=lambda _e: None)
    threading.Timer(0.2, os.kill, (os.getpid(), signum)).start()
    run_all([BlockingAdapter(events)], Drain(router, pool, grace=10))
    assert events == ["posted", "closed"]  # the answer was posted before the adapter closed
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"Stopping on {signal.Signals(signum).name}: 1 answer(s) in flight "
                           "finished in ")
    late = router.handle_message(IncomingMessage("slack", "C1", "U1", "refunds?", event_id="E2"))
    assert late.text == RESTARTING
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_answers_still_running_after_the_grace_period_are_abandoned(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    pool, done = AnswerPool(1, 8, 30), threading.Event()
    pool.submit(lambda: done.wait(5), on_done=lambda _r: None, on_timeout=lambda: None,
                on_error=lambda _e: None)
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    run_all([BlockingAdapter([])], Drain(Router(store, FakeEngine()), pool, grace=0.5))
    assert time.monotonic() - started < 3
    assert "1 abandoned after 0.5 s (SHUTDOWN_GRACE)" in capsys.readouterr().err
    done.set()


def test_an_adapter_failure_is_raised(store: Store) -> None:
    class Failing(BlockingAdapter):
        def run(self) -> None:
            raise RuntimeError("bad token")

    events: list[Any] = []
    with pytest.raises(RuntimeError, match="bad token"):
        run_all([Failing(events), BlockingAdapter(events)])
    assert events == ["closed", "closed"]
