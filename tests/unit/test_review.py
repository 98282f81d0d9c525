"""The review queue in the store (issue 26): each reason's filter, newest and most-asked order,
answers leaving the queue once dismissed, marked missing, approved or corrected, paging, bad
input, one statement for a page of thousands; and editing a verified answer (real SQLite, and
PostgreSQL: tests/pg.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import event, insert

from bot.core.types import Answer
from bot.storage import Store
from bot.storage.models import Conversation, Feedback, Handoff, Message
from knowledge.errors import InputError
from knowledge.verified import VerifiedIndex
from tests.fakes import make_source


@pytest.fixture
def db_url(both_db_url: str) -> str:
    """Every test here runs on SQLite and on PostgreSQL."""
    return both_db_url


def ask(store: Store, question: str, user: str = "ann", text: str = "An answer [1].",
        grounded: bool = True, guard_cut: int = 0, thread: str = "") -> int:
    """Store a question and its answer; the answer's message id."""
    conversation = store.conversation("web", "web", thread or question, user)
    question_id = store.add_question(conversation, user, question)
    return store.add_answer(conversation, question_id, Answer(
        text=text, sources=(make_source(),), latency_ms=1.0, model="smol", adapter="v3",
        query=question, context="[1] Title 1 (doc.md)\nSome text.", grounded=grounded,
        guard_cut=guard_cut))


def hand_off(store: Store, message_id: int) -> None:
    with store.session() as s:
        s.add(Handoff(platform="web", user="ann", message_id=message_id))


def ids(items: Sequence[Any]) -> list[int]:
    return [item.message_id for item in items]


@pytest.fixture()
def queued(store: Store) -> dict[str, int]:
    """One answer per reason, oldest first, and a fine answer nobody complained about."""
    made = {"fine": ask(store, "Where is the login page?"),
            "downvoted": ask(store, "How do I export my data?"),
            "declined": ask(store, "Do you ship to Mars?", text="I don't know.", grounded=False),
            "handoff": ask(store, "Can I pay by cheque?"),
            "guard_cut": ask(store, "Is there an API rate limit?", guard_cut=2)}
    store.set_feedback(made["downvoted"], "web", "bob", "-1", -1)
    store.set_feedback(made["fine"], "web", "bob", "+1", 1)
    hand_off(store, made["handoff"])
    return made


def test_each_kind_filters_and_all_come_newest_first(store: Store,
                                                     queued: dict[str, int]) -> None:
    for kind in ("downvoted", "declined", "handoff", "guard_cut"):
        found = store.review_queue([kind])
        assert ids(found) == [queued[kind]], kind
        assert found[0].reasons == (kind,)
    everything = store.review_queue()
    assert ids(everything) == [queued[k] for k in ("guard_cut", "handoff", "declined",
                                                   "downvoted")]
    assert ids(store.review_queue(["declined", "handoff"])) == [queued["handoff"],
                                                                 queued["declined"]]
    item = everything[-1]
    assert (item.question, item.answer, item.model, item.adapter) == (
        "How do I export my data?", "An answer [1].", "smol", "v3")
    assert item.context.startswith("[1] Title 1") and item.sources[0]["source"] == "doc.md"
    assert item.as_dict()["reasons"] == ["downvoted"] and item.asked == item.users == 1


def test_an_answer_with_several_reasons_is_listed_once_with_all_of_them(store: Store) -> None:
    answer = ask(store, "How do I export my data?", guard_cut=1)
    store.set_feedback(answer, "web", "bob", "-1", -1)
    store.set_feedback(answer, "web", "cy", "-1", -1)
    hand_off(store, answer)
    hand_off(store, answer)
    [item] = store.review_queue()
    assert item.reasons == ("downvoted", "handoff", "guard_cut")


def test_most_asked_sorts_by_the_normalised_question_then_newest(store: Store) -> None:
    often = [ask(store, "How do I reset my password?", user="ann", grounded=False),
             ask(store, "how do i  reset my password", user="bob", thread="t2"),
             ask(store, "HOW DO I RESET MY PASSWORD!!", user="ann", thread="t3")]
    once = ask(store, "Can I change my username?", grounded=False)
    assert ids(store.review_queue()) == [once, often[0]]  # only the declined ones
    by_asked = store.review_queue(sort="asked")
    assert ids(by_asked) == [often[0], once]
    assert [(i.asked, i.users) for i in by_asked] == [(3, 2), (1, 1)]


def test_dismissed_missing_approved_and_corrected_answers_leave_the_queue(
    store: Store, queued: dict[str, int]
) -> None:
    store.act_on_review(queued["downvoted"], "dismiss", "rita")
    store.act_on_review(queued["declined"], "missing", "rita")
    approved = store.act_on_review(queued["handoff"], "approve", "rita")
    corrected = store.act_on_review(queued["guard_cut"], "correct", "rita", "Yes: 100/min.")
    assert store.review_queue() == []
    served = {v.id: v.answer for v in store.verified_answers()}
    assert served == {approved: "An answer [1].", corrected: "Yes: 100/min."}
    assert store.missing_docs_questions()[0][:2] == ("Do you ship to Mars?", "ann")
    assert corrected is not None and store.retract_verified(corrected)
    assert ids(store.review_queue()) == [queued["guard_cut"]]  # retracted: back in the queue
    store.mark_review(queued["declined"], "dismissed", "sam")  # a later decision replaces it
    assert store.missing_docs_questions() == []


def test_bad_review_input_says_how_to_fix_it(store: Store, queued: dict[str, int]) -> None:
    question_id = queued["fine"] - 1
    for call, says in (
        (lambda: store.review_queue(["typo"]), "unknown kind 'typo'"),
        (lambda: store.review_queue(sort="oldest"), "newest or asked"),
        (lambda: store.review_queue(limit=0), "limit is 1-1000"),
        (lambda: store.mark_review(424242, "dismissed", "rita"), "is not an answer"),
        (lambda: store.mark_review(question_id, "dismissed", "rita"), "is not an answer"),
        (lambda: store.mark_review(queued["fine"], "maybe", "rita"), "dismissed or missing"),
        (lambda: store.act_on_review(queued["fine"], "shred", "rita"), "unknown review action"),
        (lambda: store.act_on_review(queued["fine"], "correct", "rita", " "), "is empty"),
    ):
        with pytest.raises(InputError, match=says):
            call()
    verified = store.act_on_review(queued["handoff"], "approve", "rita")
    with pytest.raises(InputError, match=f"already verified as {verified}"):
        store.act_on_review(queued["handoff"], "correct", "rita", "Another text.")


def test_pages_by_offset_and_before(store: Store) -> None:
    made = [ask(store, f"Question {n}?", grounded=False) for n in range(5)]
    newest = list(reversed(made))
    assert ids(store.review_queue(limit=2)) == newest[:2]
    assert ids(store.review_queue(limit=2, offset=2)) == newest[2:4]
    assert ids(store.review_queue(limit=2, before=newest[1])) == newest[2:4]


def test_a_page_of_a_large_queue_is_one_statement(store: Store) -> None:
    n = 3000  # questions; every third answer declined, every fifth 👎, every seventh handed off
    with store.session() as s:
        s.execute(insert(Conversation), [{"id": 1, "platform": "web", "channel": "c",
                                          "thread": "t", "user": "u"}])
        s.execute(insert(Message), [row for i in range(n) for row in (
            {"id": 2 * i + 1, "conversation_id": 1, "role": "user", "user": f"u{i % 40}",
             "text": f"How do I do thing {i % 500}?"},
            {"id": 2 * i + 2, "conversation_id": 1, "role": "assistant", "text": "A.",
             "reply_to_id": 2 * i + 1, "declined": i % 3 == 0, "guard_cut": 0})])
        s.execute(insert(Feedback), [{"message_id": 2 * i + 2, "platform": "web", "user": "v",
                                      "reaction": "-1", "score": -1} for i in range(0, n, 5)])
        s.execute(insert(Handoff), [{"platform": "web", "user": "v", "message_id": 2 * i + 2}
                                    for i in range(0, n, 7)])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(store.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    page = store.review_queue(sort="asked", limit=100)
    elapsed = time.perf_counter() - started
    event.remove(store.engine, "before_cursor_execute", count)
    assert len(page) == 100 and all(item.asked == 6 for item in page)
    begin = ["BEGIN"] if store.engine.dialect.name == "sqlite" else []  # psycopg: implicit
    assert [s.split()[0] for s in statements] == [*begin, "WITH"]  # no query per row
    assert elapsed < 5  # about 0.05 s here; generous for a busy machine


class OneVector:
    """An embedding model that embeds everything alike: any question matches."""

    def get_text_embedding_batch(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def test_editing_a_verified_answer_is_served_at_once(store: Store,
                                                     queued: dict[str, int]) -> None:
    verified = store.correct(queued["downvoted"], "Settings → Export.", "rita")
    index = VerifiedIndex(OneVector(), store.verified_stamp, store.verified_answers)
    match = index.match([1.0, 0.0])
    assert match is not None and match[0].answer == "Settings → Export."
    store.edit_verified(verified, "  Settings → Data → Export.  ", "sam")
    match = index.match([1.0, 0.0])
    assert match is not None and (match[0].answer, match[0].author) == (
        "Settings → Data → Export.", "sam")
    for bad_id, text, says in ((verified, "   ", "is empty"),
                               (424242, "Text.", "no verified answer")):
        with pytest.raises(InputError, match=says):
            store.edit_verified(bad_id, text, "sam")
    store.retract_verified(verified)
    with pytest.raises(InputError, match="no verified answer"):
        store.edit_verified(verified, "Text.", "sam")
