"""The review queue end to end (issue 26): ``supportbot review`` and ``verified edit`` on a real
runtime (MiniLM, the four-topic corpus, a fake chat model), and the console's Review and
Verified pages and API through Starlette's test client (login, CSRF, audit)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bot.cli import app, main
from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.runtime import Runtime
from bot.storage import Store
from bot.web.app import WebDeps, create_app
from bot.web.security import hash_password
from knowledge.verified import VERIFIED_NOTE
from tests.fakes import FakeChatModel, FakeConsoleOps, FakeEngine
from tests.integration.test_web_api import PASSWORD, csrf, log_in
from tests.unit.test_review import ask, hand_off

MODEL_TEXT = "Annual subscriptions can be refunded in full within 30 days of purchase [1]."
QUESTION = "How long do I have to get a refund on an annual subscription?"


@pytest.fixture()
def cli(make_runtime: Callable[..., Any], corpus: Path, embed_model: Any
        ) -> tuple[Callable[..., dict[str, Any]], Store]:
    runtime = make_runtime()
    runtime.refresh([corpus], kind="ingest")

    model: Any = FakeChatModel(MODEL_TEXT)

    def build(settings: Any) -> Runtime:
        return Runtime(settings, embed_model=embed_model, chat_loader=lambda spec: model)

    def run(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(app, [*args, "--json"], obj=build)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    return run, runtime.store


def test_review_from_the_command_line_and_an_edited_correction_is_served(
    cli: tuple[Callable[..., dict[str, Any]], Store]
) -> None:
    run, store = cli
    first = run("ask", QUESTION)
    assert run("review", "list", "--kind", "downvoted")["review"] == []
    store.set_feedback(first["message_id"], "cli", "ann", "-1", -1)
    [item] = run("review", "list", "--kind", "downvoted", "--kind", "handoff",
                 "--sort", "asked")["review"]
    assert item["message_id"] == first["message_id"] and item["question"] == QUESTION
    assert {"context", "answer", "sources", "model", "adapter", "reasons", "asked",
            "created_at"} <= item.keys()
    assert "downvoted" in item["reasons"] and item["asked"] == 1 and item["sources"]
    fixed = run("review", "correct", str(first["message_id"]), "Within 30 days, in full.")
    assert run("review", "list")["review"] == []
    assert run("ask", QUESTION)["answer"] == f"Within 30 days, in full.\n\n{VERIFIED_NOTE}"
    run("verified", "edit", str(fixed["verified_id"]), "Within 30 days; email billing.")
    again = run("ask", QUESTION)
    assert again["verified"] is True and again["answer"].startswith("Within 30 days; email")
    actions = [a.action for a in store.admin_actions()]
    assert f"review correct {first['message_id']}" in actions
    assert f"verified edit {fixed['verified_id']}" in actions


def test_review_commands_refuse_bad_input_in_one_line(
    cli: tuple[Callable[..., dict[str, Any]], Store], capsys: pytest.CaptureFixture[str]
) -> None:
    run, store = cli
    answer = run("ask", QUESTION)["message_id"]
    run("review", "missing", str(answer))
    assert [q.question for q in store.missing_docs_questions()] == [QUESTION]
    for args, says in ((["review", "list", "--kind", "typo"], "unknown kind 'typo'"),
                       (["review", "dismiss", "999999"], "is not an answer"),
                       (["review", "correct", str(answer), "  "], "is empty"),
                       (["verified", "edit", "424242", "text"], "no verified answer")):
        with pytest.raises(SystemExit) as exited:
            main(args, build=Runtime)
        assert exited.value.code == 2, args
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err and err.count("\n") == 1, args


# the console ---------------------------------------------------------------------------------
@pytest.fixture()
def web(tmp_path: Path) -> Iterator[tuple[TestClient, Store]]:
    store = Store(f"sqlite:///{tmp_path / 'web.db'}")
    store.set_admin("ada", hash_password(PASSWORD))
    deps = WebDeps(store=store, router=Router(store, FakeEngine()), pool=AnswerPool(2, 8, 30),
                   ready=lambda: None, secret_key="test-key", ops=FakeConsoleOps())
    yield TestClient(create_app(deps)), store
    store.close()


def test_the_review_page_needs_a_login_and_filters_by_kind(
    web: tuple[TestClient, Store]
) -> None:
    client, store = web
    declined = ask(store, "Do you <script>ship</script> to Mars?", text="I don't know.",
                   grounded=False)
    handed = ask(store, "Can I pay by cheque?")
    hand_off(store, handed)
    page = client.get("/review", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.get("/api/review").status_code == 401
    log_in(client)
    html = client.get("/review").text
    assert "Can I pay by cheque?" in html and "&lt;script&gt;ship" in html
    assert "<script>ship" not in html and 'href="/review"' in html  # escaped; in the nav
    only = client.get("/review", params={"kind": "handoff"}).text
    assert "Can I pay by cheque?" in only and "Mars" not in only
    found = client.get("/api/review", params={"kind": "declined", "sort": "asked"}).json()
    assert [(i["message_id"], i["reasons"]) for i in found["review"]] == [(declined,
                                                                           ["declined"])]
    bad = client.get("/api/review", params={"kind": "typo"})
    assert bad.status_code == 422 and "kind" in bad.json()["error"]


def test_review_forms_need_the_csrf_token_are_audited_and_empty_the_queue(
    web: tuple[TestClient, Store]
) -> None:
    client, store = web
    made = {name: ask(store, f"Question {name}?", text="I don't know.", grounded=False)
            for name in ("dismiss", "missing", "approve", "correct")}
    log_in(client)
    refused = client.post(f"/review/{made['dismiss']}", data={"action": "dismiss"})
    assert refused.status_code == 403 and len(store.review_queue()) == 4
    token = csrf(client, "/review")
    for action, message_id in made.items():
        done = client.post(f"/review/{message_id}", follow_redirects=False, data={
            "action": action, "text": "Yes, we do.", "csrf": token,
            "back": "/review?kind=declined"})
        assert done.status_code == 303 and done.headers["location"] == "/review?kind=declined"
    assert store.review_queue() == []
    assert sorted(v.answer for v in store.verified_answers()) == ["I don't know.",
                                                                  "Yes, we do."]
    assert [q.question for q in store.missing_docs_questions()] == ["Question missing?"]
    audited = [(a.platform, a.user, a.action) for a in store.admin_actions()]
    assert ("web", "ada", f"review dismiss {made['dismiss']}") in audited
    assert ("web", "ada", f"review correct {made['correct']}") in audited
    page = client.post("/review/424242", data={"action": "dismiss", "csrf": token,
                                               "back": "https://evil.example/"})
    # the redirect went back to the queue, not to the other site, with what went wrong
    assert page.url.path == "/review" and "Not done: message 424242 is not an answer" in (
        page.text)


def test_the_review_api_takes_json_with_the_csrf_header(web: tuple[TestClient, Store]) -> None:
    client, store = web
    answer = ask(store, "Question?", grounded=False, text="I don't know.")
    log_in(client)
    token = {"X-CSRF-Token": csrf(client, "/review")}
    assert client.post(f"/api/review/{answer}", json={"action": "approve"}).status_code == 403
    wrong = client.post(f"/api/review/{answer}", json={"action": "shred"}, headers=token)
    assert wrong.status_code == 422 and "action" in wrong.json()["error"]
    missing = client.post("/api/review/424242", json={"action": "dismiss"}, headers=token)
    assert missing.status_code == 400 and "is not an answer" in missing.json()["error"]
    approved = client.post(f"/api/review/{answer}", json={"action": "approve"}, headers=token)
    assert approved.json()["verified_id"] == store.verified_answers()[0].id
    assert client.get("/api/review").json() == {"review": []}


def test_verified_answers_are_edited_and_retracted_from_the_console(
    web: tuple[TestClient, Store]
) -> None:
    client, store = web
    verified = store.correct(ask(store, "How do I export?"), "Settings → Export.", "rita")
    log_in(client)
    assert "Settings → Export." in client.get("/verified").text
    token = csrf(client, "/verified")
    edited = client.post(f"/verified/{verified}", data={"action": "edit", "csrf": token,
                                                        "text": "Settings → Data → Export."})
    assert edited.status_code == 200 and "now says the new text" in edited.text
    assert [(v.answer, v.author) for v in store.verified_answers()] == [
        ("Settings → Data → Export.", "ada")]
    via_api = client.post(f"/api/verified/{verified}", json={"action": "edit", "text": "New."},
                          headers={"X-CSRF-Token": token})
    assert via_api.status_code == 200 and store.verified_answers()[0].answer == "New."
    client.post(f"/verified/{verified}", data={"action": "retract", "csrf": token})
    assert store.verified_answers() == [] and "No verified answers yet" in (
        client.get("/verified").text)
    again = client.post(f"/verified/{verified}", data={"action": "retract", "csrf": token})
    assert "Not done" in again.text
    audited = [a.action for a in store.admin_actions()]
    assert audited.count(f"verified edit {verified}") == 2
    assert f"verified retract {verified}" in audited
