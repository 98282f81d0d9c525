"""The answer lifecycle in core, with a fake surface: refusals, duplicates, busy, slow, failed,
finished and recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from bot.core.lifecycle import FAILED, Lifecycle
from bot.core.limits import AnswerPool
from bot.core.router import BUSY, TOO_SLOW, Router
from bot.core.types import Answer, IncomingMessage, ReactionEvent, Reply, Turn
from bot.storage import Store
from tests.fakes import FakeEngine


class FakeSurface:
    """Records the calls in order; ``settled`` is set by the last one a question gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.refs: list[str] = []
        self.settled = threading.Event()

    def post(self, reply: Reply) -> None:
        self.calls.append(("post", reply.text))
        self.settled.set()

    def working(self) -> None:
        self.calls.append(("working", ""))

    def update(self, text: str) -> None:
        self.calls.append(("update", text))

    def finish(self, reply: Reply) -> str | None:
        self.calls.append(("finish", reply.text))
        self.refs.append(f"ts-{reply.message_id}")
        self.settled.set()
        return self.refs[-1]

    def fail(self, text: str) -> None:
        self.calls.append(("fail", text))
        self.settled.set()


def ask(text: str, event_id: str = "E1") -> IncomingMessage:
    return IncomingMessage("test", "C1", "U1", text, thread="t1", event_id=event_id)


def run(lifecycle: Lifecycle, msg: IncomingMessage) -> FakeSurface:
    surface = FakeSurface()
    lifecycle.handle(msg, surface)
    surface.settled.wait(10)
    lifecycle.pool.drain(10)
    return surface


def test_an_answer_is_shown_working_then_finished_and_recorded(store: Store) -> None:
    router = Router(store, FakeEngine("Refunds take 30 days [1]."))
    surface = run(Lifecycle(router, AnswerPool()), ask("Refunds?"))
    assert surface.calls == [("working", ""), ("finish", "Refunds take 30 days [1]. (1)")]
    # the posted reference is recorded: a reaction on it becomes feedback
    assert store.answer_by_ref("test", surface.refs[0]) is not None
    assert router.handle_reaction(ReactionEvent("test", "U2", "+1", surface.refs[0]))


def test_a_refusal_is_posted_and_a_repeat_gets_nothing(store: Store) -> None:
    lifecycle = Lifecycle(Router(store, FakeEngine()), AnswerPool())
    assert run(lifecycle, ask("   ")).calls == [("post", "Please type a question, and I'll "
                                                       "look it up.")]
    repeat = FakeSurface()
    lifecycle.handle(ask("   "), repeat)
    assert repeat.calls == []


def test_a_full_pool_says_busy(store: Store) -> None:
    gate = threading.Event()

    class Blocking(FakeEngine):
        def answer(self, question: str, history: Sequence[Turn] = (),
                   on_text: Callable[[str], None] | None = None) -> Answer:
            gate.wait(10)
            return super().answer(question, history, on_text)

    lifecycle = Lifecycle(Router(store, Blocking()), AnswerPool(workers=1, max_pending=1))
    first, second = FakeSurface(), FakeSurface()
    lifecycle.handle(ask("one?", "E1"), first)
    lifecycle.handle(ask("two?", "E2"), second)
    assert second.calls == [("working", ""), ("fail", BUSY)]
    gate.set()
    first.settled.wait(10)
    assert first.calls[-1][0] == "finish"


def test_a_slow_answer_says_too_slow_and_a_failure_says_failed(store: Store) -> None:
    class Slow(FakeEngine):
        def answer(self, question: str, history: Sequence[Turn] = (),
                   on_text: Callable[[str], None] | None = None) -> Answer:
            time.sleep(0.5)
            return super().answer(question, history, on_text)

    slow = run(Lifecycle(Router(store, Slow()), AnswerPool(timeout=0.1)), ask("slow?", "E1"))
    assert slow.calls == [("working", ""), ("fail", TOO_SLOW)]
    failing = Lifecycle(Router(store, FakeEngine(error=RuntimeError("bug"))), AnswerPool())
    assert run(failing, ask("boom?", "E2")).calls == [("working", ""), ("fail", FAILED)]


def test_a_streamed_answer_updates_the_surface_before_it_finishes(store: Store) -> None:
    class Streaming(FakeEngine):
        def answer(self, question: str, history: Sequence[Turn] = (),
                   on_text: Callable[[str], None] | None = None) -> Answer:
            assert on_text is not None  # the lifecycle always streams to the surface
            on_text("First sentence [1].")
            on_text("First sentence [1]. Second one.")
            return super().answer(question, history, on_text)

    surface = run(Lifecycle(Router(store, Streaming("Done [1].")), AnswerPool()), ask("Hi?"))
    assert surface.calls == [("working", ""), ("update", "First sentence [1]."),
                             ("update", "First sentence [1]. Second one."),
                             ("finish", "Done [1]. (1)")]
