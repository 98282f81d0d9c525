"""The terminal chat: questions, follow-ups and /good, /bad feedback end up in the database."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import select

from bot.adapters.console import ConsoleChat
from bot.core.router import Router
from bot.storage import Store
from bot.storage.models import Message
from tests.fakes import FakeChatModel
from tests.helpers import run_bot


def scripted(*lines: str) -> Callable[[str], str]:
    """A ``read`` function that returns ``lines`` one by one, then signals end of input."""
    queue = list(lines)

    def read(prompt: str) -> str:
        assert prompt == "you> "
        if not queue:
            raise EOFError
        return queue.pop(0)

    return read


def test_console_chat_records_feedback(engine_for: Callable[..., Any], store: Store) -> None:
    pro = ("The Pro plan includes unlimited boards, timeline views, 5,000 automation runs per "
           "month and priority email support [1].")
    cost = ("The Pro plan costs $12 per member per month when billed annually, or $15 per "
            "member per month when billed monthly [1].")
    model = FakeChatModel(pro, cost)
    out = io.StringIO()
    chat = ConsoleChat(Router(store, engine_for(model, quote=False)),  # answers as written
                       console=Console(file=out, width=200),
                       read=scripted("/good", "What does the Pro plan include?", "/good",
                                     "and how much does that cost?", "/bad", "/help"),
                       user="tester")
    chat.run()

    rows = store.list_feedback()
    assert [(r.platform, r.user, r.reaction, r.score) for r in rows] == [
        ("console", "tester", "+1", 1), ("console", "tester", "-1", -1)]
    assert [(r.question, r.answer) for r in rows] == [
        ("What does the Pro plan include?", pro),
        ("and how much does that cost?", cost),
    ]
    assert model.last_user_prompt().endswith(  # the follow-up used the chat's history
        "Question: What does the Pro plan include? and how much does that cost?")

    shown = out.getvalue()
    assert "Nothing to rate yet" in shown  # /good before any answer
    assert shown.count("Thanks — feedback recorded.") == 2
    assert f"bot> {pro}" in shown
    assert "[1] pricing.md — Pricing" in shown
    assert shown.rstrip().endswith("Bye.")


def test_new_conversation_forgets_history_and_rating_target(
    engine_for: Callable[..., Any], store: Store
) -> None:
    model = FakeChatModel()
    out = io.StringIO()
    ConsoleChat(Router(store, engine_for(model)), console=Console(file=out, width=200),
                read=scripted("What does the Pro plan include?", "/new", "/bad",
                              "and how much does that cost?", "/quit", "never read"),
                user="tester").run()
    assert store.list_feedback() == []  # /bad after /new had nothing to rate
    assert model.last_user_prompt().endswith("Question: and how much does that cost?")
    assert "New conversation." in out.getvalue()


def test_chat_command_with_piped_stdin(make_runtime: Callable[..., Any], corpus: Path,
                                       home: Path, tmp_path: Path) -> None:
    make_runtime().refresh([corpus], kind="ingest")
    proc = run_bot(["chat"], home, tmp_path,
                   stdin="How do I turn on two-factor authentication?\n/good\n")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "bot>" in proc.stdout
    assert re.search(r"^  \[\d\] \S+\.md — ", proc.stdout, re.MULTILINE)  # a source line
    assert "Thanks — feedback recorded." in proc.stdout
    assert proc.stdout.rstrip().endswith("Bye.")
    store = Store(f"sqlite:///{home / 'supportbot.db'}")
    try:
        rows = store.list_feedback()
        with store.session() as session:
            answers = session.scalars(select(Message).filter_by(role="assistant")).all()
            sources = [answer.sources for answer in answers]
    finally:
        store.close()
    assert [(r.platform, r.score, r.question) for r in rows] == [
        ("console", 1, "How do I turn on two-factor authentication?")]
    assert len(sources) == 1 and sources[0]
    assert sources[0][0]["source"] == "two-factor-authentication.md"
