"""The router over the real Store (SQLite in a temporary folder) and a fake engine."""

from __future__ import annotations

import pytest

from bot.core.router import Router
from bot.core.types import IncomingMessage, ReactionEvent
from bot.storage import Store
from knowledge.errors import ModelError
from tests.fakes import FakeEngine


def msg(text: str, thread: str = "t1", event_id: str | None = None,
        user: str = "U1") -> IncomingMessage:
    return IncomingMessage("slack", "C1", user, text, thread=thread, event_id=event_id)


def test_question_is_answered_and_both_messages_are_stored(store: Store) -> None:
    engine = FakeEngine()
    reply = Router(store, engine).handle_message(msg("  How do refunds work?  "))
    assert reply.text == "Canned answer [1]. (1)"
    assert reply.thread == "t1" and reply.sources and reply.message_id is not None
    assert engine.calls == [("How do refunds work?", ())]
    stored = store.message(reply.message_id)
    assert stored is not None and stored.role == "assistant"
    assert stored.query == "How do refunds work?" and stored.model == "fake-model"
    assert stored.sources == [{"id": "chunk-1", "source": "doc.md", "title": "Title 1",
                               "score": 0.5}]
    conversation = store.conversation("slack", "C1", "t1", "U1")
    assert [(t.role, t.text) for t in store.history(conversation, 10)] == [
        ("user", "How do refunds work?"), ("assistant", "Canned answer [1]. (1)")]


def test_history_of_the_same_thread_is_passed_to_the_engine(store: Store) -> None:
    engine = FakeEngine()
    router = Router(store, engine, history_turns=6)
    router.handle_message(msg("What does Pro include?"))
    router.handle_message(msg("Something else entirely", thread="t2"))
    router.handle_message(msg("and the price?"))
    question, history = engine.calls[2]
    assert question == "and the price?"
    assert [(t.role, t.text) for t in history] == [
        ("user", "What does Pro include?"), ("assistant", "Canned answer [1]. (1)")]
    assert engine.calls[1][1] == ()  # another thread starts empty


def test_history_is_limited_to_the_last_turns(store: Store) -> None:
    engine = FakeEngine()
    router = Router(store, engine, history_turns=3)
    for i in range(4):
        router.handle_message(msg(f"question {i}"))
    assert [t.text for t in engine.calls[3][1]] == [
        "Canned answer [1]. (2)", "question 2", "Canned answer [1]. (3)"]


@pytest.mark.parametrize("text", ["", "   \n "])
def test_empty_message_is_not_answered(store: Store, text: str) -> None:
    engine = FakeEngine()
    reply = Router(store, engine).handle_message(msg(text))
    assert "type a question" in reply.text
    assert engine.calls == [] and reply.message_id is None


def test_overlong_message_is_refused(store: Store) -> None:
    engine = FakeEngine()
    reply = Router(store, engine, max_question_chars=50).handle_message(msg("x" * 51))
    assert "51 characters" in reply.text and "under 50" in reply.text
    assert engine.calls == []


def test_duplicate_event_is_answered_once(store: Store) -> None:
    engine = FakeEngine()
    router = Router(store, engine)
    first = router.handle_message(msg("How do refunds work?", event_id="Ev1"))
    again = router.handle_message(msg("How do refunds work?", event_id="Ev1"))
    assert first.message_id is not None and not first.duplicate
    assert again.duplicate and again.text == "" and again.message_id is None
    assert len(engine.calls) == 1


@pytest.mark.parametrize("text", ["", "   ", "x" * 51])
def test_a_refused_question_delivered_again_gets_no_second_reply(store: Store, text: str) -> None:
    router = Router(store, FakeEngine(), max_question_chars=50)
    replies = [router.handle_message(msg(text, event_id="Ev9")) for _ in range(8)]
    assert replies[0].text and not replies[0].duplicate
    assert all(r.duplicate and r.text == "" for r in replies[1:])


def test_a_rate_limited_question_delivered_again_gets_no_second_reply(store: Store) -> None:
    from bot.core.limits import RateLimiter

    router = Router(store, FakeEngine(), limiter=RateLimiter(1))
    assert not router.handle_message(msg("first?", event_id="Ev1")).duplicate
    limited = [router.handle_message(msg("second?", event_id="Ev2")) for _ in range(3)]
    assert "faster than I can answer" in limited[0].text
    assert [r.duplicate for r in limited] == [False, True, True]


def test_very_long_event_ids_are_stored_hashed(store: Store) -> None:
    router = Router(store, FakeEngine())
    first = router.handle_message(msg("How do refunds work?", event_id="E" * 500))
    again = router.handle_message(msg("How do refunds work?", event_id="E" * 500))
    assert first.message_id is not None and again.duplicate


def test_engine_error_becomes_a_polite_reply(store: Store) -> None:
    engine = FakeEngine(error=ModelError("The language model failed: boom"))
    reply = Router(store, engine).handle_message(msg("How do refunds work?"))
    assert reply.text == "Sorry, I can't answer right now: The language model failed: boom"
    assert reply.message_id is None


def test_reactions_record_replace_and_remove_feedback(store: Store) -> None:
    router = Router(store, FakeEngine())
    reply = router.handle_message(msg("How do refunds work?"))
    assert reply.message_id is not None
    router.mark_posted(reply.message_id, "1700000000.0001")

    assert router.handle_reaction(ReactionEvent("slack", "U2", "+1", "1700000000.0001"))
    assert [(f.user, f.score, f.question) for f in store.list_feedback()] == [
        ("U2", 1, "How do refunds work?")]

    assert router.handle_reaction(ReactionEvent("slack", "U2", "thumbsdown", "1700000000.0001"))
    rows = store.list_feedback()
    assert [(f.score, f.reaction, f.answer) for f in rows] == [
        (-1, "thumbsdown", "Canned answer [1]. (1)")]  # replaced, not added

    assert router.handle_reaction(
        ReactionEvent("slack", "U2", "thumbsdown", "1700000000.0001", added=False))
    assert store.list_feedback() == []


def test_reactions_that_are_not_feedback_are_ignored(store: Store) -> None:
    router = Router(store, FakeEngine())
    reply = router.handle_message(msg("How do refunds work?"))
    assert reply.message_id is not None
    router.mark_posted(reply.message_id, "ts-1")
    assert not router.handle_reaction(ReactionEvent("slack", "U2", "tada", "ts-1"))
    assert not router.handle_reaction(ReactionEvent("slack", "U2", "+1", "unknown-ts"))
    assert not router.handle_reaction(ReactionEvent("discord", "U2", "+1", "ts-1"))
    assert store.list_feedback() == []


def test_a_blocked_answer_is_recorded_as_a_security_event(store: Store) -> None:
    engine = FakeEngine(text="Safe reply.", security="asks the user to send a secret")
    reply = Router(store, engine).handle_message(msg("How do I get a refund?", user="U9"))
    events = store.security_events()
    assert len(events) == 1
    event = events[0]
    assert event.reason == "asks the user to send a secret" and event.user == "U9"
    assert event.question == "How do I get a refund?" and event.message_id == reply.message_id
    assert event.sources and event.sources[0]["source"] == "doc.md"


def test_an_ordinary_answer_records_no_security_event(store: Store) -> None:
    Router(store, FakeEngine()).handle_message(msg("How do refunds work?"))
    assert store.security_events() == []
