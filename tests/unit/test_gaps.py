"""Knowledge gaps (issue 26): questions the bot declined, whose answer got 👎 or was marked
missing, clustered by meaning (the real MiniLM model), ranked by distinct users, dropped once
the documents answer them; the storage query, ``supportbot gaps --json``, ``/kb gaps`` and the
console's Gaps page (a real store, runtime and index of the four-topic corpus)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bot.cli import app
from bot.console_ops import RuntimeOps
from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import AdminCommand, Answer, Source
from bot.knowledge_admin import KnowledgeAdmin
from bot.runtime import Runtime
from bot.storage import Store
from bot.storage.models import ReviewMark
from bot.web.app import WebDeps, create_app
from bot.web.security import hash_password
from tests.fakes import FakeConsoleOps, make_source
from tests.integration.test_web_api import PASSWORD, StreamingEngine, log_in

IPHONE = ("Is there an Orbitask app for iPhone?", "Can I use Orbitask on my iPad?",
          "Do you have an iOS app?")
DARK = ("How do I turn on dark mode?", "Is there a dark mode?",
        "Can I switch Orbitask to dark mode?")
TRELLO = ("Can I import my boards from Trello?", "How do I move my projects over from Trello?")
MOBILE_DOC = ("# Mobile apps\n\nOrbitask has a mobile app for iPhone and iPad. Download the "
              "Orbitask iOS app from the App Store and sign in with your workspace account; "
              "boards and tasks sync with the web app.\n")
_ids = itertools.count(1)


def ask(store: Store, user: str, question: str, *, declined: bool = True,
        votes: tuple[int, ...] = (), platform: str = "slack",
        sources: tuple[Source, ...] | None = None) -> int:
    """Store ``question`` and an answer to it (declined or not, from ``sources``) with
    ``votes``; the answer's message id."""
    conversation = store.conversation(platform, "C1", f"t{next(_ids)}", user)
    question_id = store.add_question(conversation, user, question)
    if sources is None:
        sources = () if declined else (make_source(),)
    answer = Answer(text="I don't know." if declined else "Here is how [1].", sources=sources,
                    latency_ms=1.0, model="fake", adapter=None, query=question,
                    grounded=not declined)
    answer_id = store.add_answer(conversation, question_id, answer)
    for n, score in enumerate(votes):
        store.set_feedback(answer_id, platform, f"voter{n}", "+1" if score > 0 else "-1", score)
    return answer_id


def retrieved(runtime: Runtime, question: str) -> tuple[Source, ...]:
    """The chunks the engine answers ``question`` from, as the store keeps them."""
    return tuple(Source(id=hit.node.node_id, source=str(hit.node.metadata["source"]),
                        title="", score=float(hit.score or 0.0), text="")
                 for hit in runtime.engine.retriever().retrieve(question).hits)


def mark(store: Store, answer_id: int, status: str) -> None:
    with store.session() as s:
        s.add(ReviewMark(message_id=answer_id, status=status, author="ada"))


def seed(runtime: Runtime) -> int:
    """iPhone: 3 users, 3 questions; dark mode: 1 user, 3 questions; Trello: 2 users (one
    question voted down, one marked missing by a reviewer). Each answer from the chunks the
    engine retrieves. The voted-down answer's id."""
    store = runtime.store

    def asked(user: str, question: str, **kwargs: Any) -> int:
        return ask(store, user, question, sources=retrieved(runtime, question), **kwargs)

    for user, question in zip(("u1", "u2", "u3"), IPHONE, strict=True):
        asked(user, question)
    for question in DARK:
        asked("u4", question)
    voted_down = asked("u5", TRELLO[0], declined=False, votes=(-1,))
    mark(store, asked("u6", TRELLO[1], declined=False), "missing")
    return voted_down


@pytest.fixture()
def seeded(make_runtime: Callable[..., Any], corpus: Path) -> tuple[Runtime, int]:
    made: Runtime = make_runtime()
    made.refresh([corpus], kind="ingest")
    return made, seed(made)


@pytest.fixture()
def runtime(seeded: tuple[Runtime, int]) -> Runtime:
    return seeded[0]


def test_the_storage_query_takes_declined_voted_down_and_missing_questions(store: Store) -> None:
    ask(store, "u1", "declined?")
    ask(store, "u1", "voted down?", declined=False, votes=(-1, -1, 1))
    ask(store, "u1", "votes cancel out", declined=False, votes=(-1, 1))
    ask(store, "u1", "a good answer", declined=False, votes=(1,))
    mark(store, ask(store, "u2", "marked missing?", declined=False), "missing")
    mark(store, ask(store, "u2", "declined and marked missing: once"), "missing")
    mark(store, ask(store, "u2", "dismissed by a reviewer"), "dismissed")
    store.correct(ask(store, "u3", "verified since"), "Like this.", "ada")
    ask(store, "u4", "on discord", platform="discord")
    found = store.gap_questions()
    assert [q.text for q in found] == ["on discord", "declined and marked missing: once",
                                       "marked missing?", "voted down?", "declined?"]
    assert found[0].user == "discord:u4" and found[-1].user == "slack:u1"
    assert found[3].sources == ("chunk-1",) and found[-1].sources == ()
    assert [q.text for q in store.gap_questions(limit=2)] == [q.text for q in found[:2]]


def test_gaps_are_clustered_by_meaning_and_ranked_by_distinct_users(runtime: Runtime) -> None:
    gaps = runtime.knowledge_gaps()
    assert [set(g.questions) for g in gaps] == [set(IPHONE), set(TRELLO), set(DARK)]
    assert [(g.users, g.count) for g in gaps] == [(3, 3), (2, 2), (1, 3)]
    assert gaps[0].label in IPHONE and all(g.relevance < 0.7 for g in gaps)
    assert all(s["source"].endswith(".md") and s["title"] for g in gaps
               for s in g.nearest_sources)
    assert [g.label for g in runtime.knowledge_gaps(limit=1)] == [gaps[0].label]


def test_a_gap_the_documents_now_answer_drops_out_after_a_refresh(runtime: Runtime,
                                                                   corpus: Path) -> None:
    before = runtime.knowledge_gaps()
    assert set(before[0].questions) == set(IPHONE)
    (corpus / "mobile-apps.md").write_text(MOBILE_DOC)
    runtime.refresh()
    after = runtime.knowledge_gaps()
    assert [set(g.questions) for g in after] == [set(TRELLO), set(DARK)]


def test_a_gap_drops_out_when_a_new_chunk_is_clearly_nearer_than_its_answers_were(
        runtime: Runtime, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("knowledge.gaps.ANSWERED_RELEVANCE", 1.01)  # only the gain counts
    assert len(runtime.knowledge_gaps()) == 3  # the index is the one they were answered from
    (corpus / "mobile-apps.md").write_text(MOBILE_DOC)
    runtime.refresh()
    assert [set(g.questions) for g in runtime.knowledge_gaps()] == [set(TRELLO), set(DARK)]


def test_a_verified_answer_takes_its_question_and_its_repeats_out(
        seeded: tuple[Runtime, int]) -> None:
    runtime, voted_down = seeded
    ask(runtime.store, "u7", TRELLO[0])  # asked again, word for word: the engine serves it
    assert [g.users for g in runtime.knowledge_gaps()] == [3, 3, 1]
    runtime.store.correct(voted_down, "Export from Trello as JSON, then use Import.", "ada")
    after = runtime.knowledge_gaps()
    assert [(g.users, set(g.questions)) for g in after[1:]] == [(1, set(DARK)),
                                                                 (1, {TRELLO[1]})]


def test_no_questions_no_gaps_and_no_index_needed(make_runtime: Callable[..., Any]) -> None:
    assert make_runtime().knowledge_gaps() == []


def test_cli_gaps_json_follows_the_contract(runtime: Runtime, embed_model: Any) -> None:
    def build(settings: Any) -> Runtime:
        return Runtime(settings, embed_model=embed_model)  # no chat model needed

    result = CliRunner().invoke(app, ["gaps", "--limit", "2", "--json"], obj=build)
    assert result.exit_code == 0, result.output
    gaps = json.loads(result.stdout)["gaps"]
    assert [sorted(g) for g in gaps] == [["count", "label", "nearest_sources", "questions",
                                          "users"]] * 2
    assert [(g["users"], g["count"]) for g in gaps] == [(3, 3), (2, 2)]
    assert gaps[0]["label"] in IPHONE and gaps[0]["nearest_sources"][0]["source"]


def test_kb_gaps_is_for_admins_and_posts_the_gaps(runtime: Runtime) -> None:
    router = Router(runtime.store, StreamingEngine(), admin=KnowledgeAdmin(runtime),
                    admins={"slack": frozenset({"ADMIN"})})
    posted: list[str] = []
    done = threading.Event()

    def notify(text: str) -> None:
        posted.append(text)
        done.set()

    refused = router.handle_admin(AdminCommand("slack", "U9", "gaps"), notify)
    assert "only knowledge-base admins can see its gaps" in refused
    assert "Looking for knowledge gaps" in router.handle_admin(
        AdminCommand("slack", "ADMIN", "gaps"), notify)
    assert done.wait(timeout=120)
    assert posted[0].startswith("Top 3 knowledge gap(s)") and "3 user(s)" in posted[0]
    assert [(a.user, a.action, a.allowed) for a in runtime.store.admin_actions()] == [
        ("U9", "gaps", False), ("ADMIN", "gaps", True)]


def test_the_console_gaps_page_lists_them_for_admins(runtime: Runtime) -> None:
    runtime.store.set_admin("ada", hash_password(PASSWORD))
    deps = WebDeps(store=runtime.store, router=Router(runtime.store, StreamingEngine()),
                   pool=AnswerPool(1, 4, 30), ready=lambda: None, secret_key="k",
                   ops=RuntimeOps(runtime))
    client = TestClient(create_app(deps))
    assert client.get("/api/gaps").status_code == 401
    assert client.get("/gaps", follow_redirects=False).status_code == 303
    log_in(client)
    page = client.get("/gaps")
    assert page.status_code == 200 and '<a href="/gaps">Gaps</a>' in page.text
    assert all(q in page.text for q in IPHONE) and "3</td><td>3</td>" in page.text
    data = client.get("/api/gaps", params={"limit": 1}).json()
    assert [(g["users"], g["count"]) for g in data["gaps"]] == [(3, 3)]
    assert client.get("/api/gaps", params={"limit": 0}).status_code == 422


def test_the_gaps_page_escapes_what_customers_wrote(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'web.db'}")
    store.set_admin("ada", hash_password(PASSWORD))
    deps = WebDeps(store=store, router=Router(store, StreamingEngine()),
                   pool=AnswerPool(1, 4, 30), ready=lambda: None, secret_key="k",
                   ops=FakeConsoleOps())
    client = TestClient(create_app(deps))
    log_in(client)
    page = client.get("/gaps").text
    assert "pair &lt;b&gt;Bluetooth&lt;/b&gt; headphones" in page and "<b>Bluetooth" not in page
    assert "Sound settings" in page
    store.close()
