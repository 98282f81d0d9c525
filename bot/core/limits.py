"""Per-user rate limiting and the bounded answer pool. Pure Python, no platform code."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol


class RateCounter(Protocol):
    """Events counted where every worker sees them (``bot.storage.ratelimits`` on PostgreSQL),
    so the workers on one database share each user's budget."""

    def admit(self, key: str, limit: int, window: float) -> bool:
        """Record an event for ``key`` unless ``limit`` were recorded in the last ``window``
        seconds; whether it was recorded."""
        ...


class RateLimiter:
    """At most ``limit`` events per user in any ``window`` seconds (sliding window), counted
    in this process, or by ``counter`` when one is given (shared by many processes)."""

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 counter: RateCounter | None = None) -> None:
        self.limit, self.window, self.clock, self.counter = limit, window, clock, counter
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, user: str) -> bool:
        if self.limit <= 0:
            return True
        if self.counter is not None:
            return self.counter.admit(user, self.limit, self.window)
        now = self.clock()
        with self._lock:
            events = self._events[user]
            while events and now - events[0] >= self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True


class AnswerPool:
    """A bounded pool for slow work (generation), so acknowledgements are never delayed.

    ``submit`` returns ``False`` at once when ``max_pending`` jobs are already waiting.
    ``on_done`` receives the result, or ``on_timeout`` is called if the job is still running
    after ``timeout`` seconds (the job finishes in the background; its late result is dropped).
    """

    def __init__(self, workers: int = 2, max_pending: int = 32, timeout: float = 120.0) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="answer")
        self._slots = threading.BoundedSemaphore(max_pending)
        self.timeout = timeout
        self._active = 0  # submitted jobs whose callbacks have not finished yet
        self._idle = threading.Condition()

    def submit(self, job: Callable[[], object], on_done: Callable[[object], None],
               on_timeout: Callable[[], None], on_error: Callable[[BaseException], None]) -> bool:
        if not self._slots.acquire(blocking=False):
            return False
        with self._idle:
            self._active += 1
        settled = threading.Event()

        def timed_out() -> None:
            if not settled.is_set():
                settled.set()
                on_timeout()

        timer = threading.Timer(self.timeout, timed_out)
        timer.daemon = True

        def finished(future: Future[object]) -> None:
            timer.cancel()
            self._slots.release()
            try:
                if settled.is_set():
                    return
                settled.set()
                error = future.exception()
                if error is not None:
                    on_error(error)
                else:
                    on_done(future.result())
            finally:
                with self._idle:
                    self._active -= 1
                    self._idle.notify_all()

        future = self._executor.submit(job)
        timer.start()
        future.add_done_callback(finished)
        return True

    @property
    def active(self) -> int:
        """Jobs submitted and not yet finished (their ``on_done`` included)."""
        with self._idle:
            return self._active

    def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every submitted job to finish and its callback to
        run (an answer generated and posted); returns how many are still running."""
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout)
            return self._active

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
