"""The hand-off service and the router's side of it over the real Store (SQLite in a temporary
folder), a fake engine and a recording support desk: open → claimed → resolved, refusals,
"Resolve & verify", hand-offs in words, the bot staying out of a handed-off thread, and
``/kb correct`` in an answer's thread."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.core.handoff import HandoffService, HandoffView, ThreadMessage, human_answer
from bot.core.router import HANDOFF_ALREADY, HANDOFF_RECORDED, Router
from bot.core.types import AdminCommand, IncomingMessage
from bot.storage import Store
from knowledge.errors import InputError
from tests.fakes import FakeEngine

ADMIN = "UADMIN"


class RecordingDesk:
    """A support channel that records what it was asked to post and update."""

    def __init__(self, fail: bool = False) -> None:
        self.posted: list[HandoffView] = []
        self.updated: list[HandoffView] = []
        self.thread: list[ThreadMessage] = []
        self.fail = fail

    def post(self, handoff: HandoffView) -> str | None:
        if self.fail:
            raise OSError("the platform is unreachable")
        self.posted.append(handoff)
        return f"desk:{len(self.posted)}"

    def update(self, handoff: HandoffView) -> None:
        self.updated.append(handoff)

    def thread_messages(self, handoff: HandoffView) -> Sequence[ThreadMessage]:
        return self.thread


def msg(text: str, user: str = "U1", thread: str = "t1") -> IncomingMessage:
    return IncomingMessage("slack", "C1", user, text, thread=thread)


@pytest.fixture()
def router(store: Store) -> Router:
    return Router(store, FakeEngine(), admins={"slack": frozenset({ADMIN})})


@pytest.fixture()
def desk(router: Router) -> RecordingDesk:
    desk = RecordingDesk()
    router.handoffs.attach("slack", desk)
    return desk


def answered(router: Router, store: Store, text: str = "How do refunds work?") -> int:
    """Ask a question in thread t1; the answer's id (posted as slack ref C1:a1)."""
    reply = router.handle_message(msg(text))
    assert reply.message_id is not None
    router.mark_posted(reply.message_id, "C1:a1")
    return reply.message_id


def test_talk_to_a_human_is_recorded_posted_and_not_repeated(
    router: Router, store: Store, desk: RecordingDesk
) -> None:
    answer = answered(router, store)
    assert router.request_human("slack", "U1", "C1:a1") == HANDOFF_RECORDED
    [posted] = desk.posted
    assert (posted.question, posted.message_id, posted.status) == ("How do refunds work?",
                                                                   answer, "open")
    assert posted.answer.startswith("Canned answer") and posted.sources[0].source == "doc.md"
    assert (posted.channel, posted.thread, posted.answer_ref) == ("C1", "t1", "C1:a1")
    assert router.request_human("slack", "U1", "C1:a1") == HANDOFF_ALREADY  # a second click
    [listed] = router.handoffs.list()
    assert listed.support_ref == "desk:1" and len(desk.posted) == 1


def test_claim_then_resolve_with_clear_refusals_and_an_audit(
    router: Router, store: Store, desk: RecordingDesk
) -> None:
    answered(router, store)
    router.request_human("slack", "U1", "C1:a1")
    service = router.handoffs
    [view] = service.list("open")
    assert service.claim(view.id, "slack", "UAGENT").claimed_by == "slack:UAGENT"
    with pytest.raises(InputError, match="already claimed by you"):
        service.claim(view.id, "slack", "UAGENT")
    with pytest.raises(InputError, match="already claimed by slack:UAGENT"):
        service.claim(view.id, "web", "ada")
    done = service.resolve(view.id, "web", "ada")
    assert (done.status, done.resolved_by, done.claimed_by) == ("resolved", "web:ada",
                                                               "slack:UAGENT")
    for again in (lambda: service.claim(view.id, "cli", "joe"),
                  lambda: service.resolve(view.id, "cli", "joe")):
        with pytest.raises(InputError, match="already resolved \\(by web:ada\\)"):
            again()
    with pytest.raises(InputError, match="no hand-off 99"):
        service.claim(99, "cli", "joe")
    with pytest.raises(InputError, match="unknown status"):
        service.list("closed")
    assert [u.status for u in desk.updated] == ["claimed", "resolved"]
    assert [(a.user, a.action) for a in store.admin_actions()] == [
        ("UAGENT", f"handoff claim {view.id}"), ("ada", f"handoff resolve {view.id}")]


def test_resolve_and_verify_takes_the_teams_latest_answer_in_the_thread(
    router: Router, store: Store, desk: RecordingDesk
) -> None:
    answer = answered(router, store)
    router.request_human("slack", "U1", "C1:a1")
    [view] = router.handoffs.list()
    assert "nobody from the team" in router.handoffs.act("verify", view.id, "slack", "UAGENT")
    desk.thread = [ThreadMessage("U1", "How do refunds work?"),
                   ThreadMessage("UBOT", "Canned answer", from_bot=True),
                   ThreadMessage("UAGENT", "Refunds take 14 days; write to billing."),
                   ThreadMessage("U1", "thanks!")]
    said = router.handoffs.act("verify", view.id, "slack", "UAGENT")
    done = router.handoffs.get(view.id)
    assert done.status == "resolved" and done.verified_id is not None
    assert f"verified answer {done.verified_id}" in said
    [verified] = store.verified_answers()
    assert (verified.answer, verified.question) == ("Refunds take 14 days; write to billing.",
                                                    "How do refunds work?")
    assert verified.author == "slack:UAGENT" and done.message_id == answer
    assert ("UAGENT", f"verify {done.verified_id}") in [(a.user, a.action)
                                                        for a in store.admin_actions()]


def test_human_answer_skips_the_bot_and_the_user_who_asked() -> None:
    assert human_answer([ThreadMessage("U1", "help"), ThreadMessage("B", "hi", True)],
                        "U1") is None
    assert human_answer([ThreadMessage("U2", "first"), ThreadMessage("U3", "second "),
                         ThreadMessage("U1", "ok")], "U1") == "second"


def test_a_desk_that_fails_loses_no_hand_off(router: Router, store: Store) -> None:
    router.handoffs.attach("slack", RecordingDesk(fail=True))
    answered(router, store)
    assert router.request_human("slack", "U1", "C1:a1") == HANDOFF_RECORDED
    [view] = router.handoffs.list()
    assert view.support_ref == "" and view.status == "open"


def test_asking_for_a_person_in_words_hands_off_instead_of_answering(
    router: Router, store: Store, desk: RecordingDesk
) -> None:
    answer = answered(router, store)
    engine = router.engine
    assert isinstance(engine, FakeEngine)
    reply = router.handle_message(msg("Can I speak to a real person please?"))
    assert reply.text == HANDOFF_RECORDED and reply.message_id is None and reply.thread == "t1"
    assert len(engine.calls) == 1  # the model was not asked
    [posted] = desk.posted
    assert posted.message_id == answer and posted.question == "How do refunds work?"
    # a person of the team answering in the thread is not a question for the bot
    staff = router.handle_message(msg("Refunds take 14 days.", user="UAGENT"))
    assert staff.duplicate and staff.text == "" and len(engine.calls) == 1
    # the user may still ask the bot while nobody has claimed it; not once someone has
    assert router.handle_message(msg("and for annual plans?")).message_id is not None
    router.handoffs.claim(posted.id, "slack", "UAGENT")
    assert router.handle_message(msg("hello?")).duplicate and len(engine.calls) == 2
    router.handoffs.resolve(posted.id, "slack", "UAGENT")
    assert router.handle_message(msg("one more thing?")).message_id is not None


def test_asking_for_a_person_first_hands_off_what_they_wrote(
    router: Router, store: Store, desk: RecordingDesk
) -> None:
    assert router.handle_message(msg("human", thread="t9")).text == HANDOFF_RECORDED
    [posted] = desk.posted
    assert (posted.question, posted.answer, posted.thread) == ("human", "", "t9")
    with pytest.raises(InputError, match="no answer of the bot to correct"):
        router.handoffs.resolve(posted.id, "slack", "UAGENT", "Hello!")
    assert router.handoffs.get(posted.id).status == "open"  # nothing half-done


def test_an_ordinary_question_with_a_person_word_is_answered(router: Router) -> None:
    reply = router.handle_message(msg("What is the agent setting?"))
    assert reply.message_id is not None and reply.text.startswith("Canned answer")


def kb_correct(user: str, text: str, thread: str = "t1") -> AdminCommand:
    return AdminCommand("slack", user, "correct", channel="C1", thread=thread, text=text)


def test_kb_correct_in_a_thread_corrects_the_latest_answer_for_admins_only(
    router: Router, store: Store
) -> None:
    answered(router, store, "What does Pro cost?")
    answered(router, store, "And Team?")
    done, text = router.correct(kb_correct("U1", "Team costs 12 dollars."))
    assert not done and "only knowledge-base admins" in text and store.verified_answers() == []
    done, text = router.correct(kb_correct(ADMIN, "Team costs 12 dollars."))
    [verified] = store.verified_answers()
    assert done and f"verified answer {verified.id}" in text
    assert (verified.question, verified.answer, verified.author) == (
        "And Team?", "Team costs 12 dollars.", f"slack:{ADMIN}")
    assert [(a.user, a.action, a.allowed) for a in store.admin_actions()] == [
        ("U1", "correct", False), (ADMIN, f"verify {verified.id}", True)]
    done, text = router.correct(kb_correct(ADMIN, "Hi", thread="elsewhere"))
    assert not done and "no answer of mine here" in text
    assert "Write the correct answer" in router.handle_admin(kb_correct(ADMIN, "  "), print)


def test_a_handoff_service_without_a_desk_still_records(store: Store) -> None:
    service = HandoffService(store)
    view, new = service.request("web", "ada", None)
    assert new and view.status == "open" and view.channel == ""
    assert [h.id for h in service.list("open")] == [view.id]
