"""The console's Hand-offs page and API through Starlette's test client (a real SQLite store, a
fake engine, a recording support desk): login and CSRF, list and filter, Claim, Resolve with
the answer given (a verified answer), clear 4xx refusals, the audit log and the desk's post
updated."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import IncomingMessage
from bot.storage import Store
from bot.web.app import WebDeps, create_app
from bot.web.security import hash_password
from tests.fakes import FakeEngine
from tests.integration.test_web_api import PASSWORD, csrf, log_in
from tests.unit.test_handoffs import RecordingDesk

ANSWER = "Refunds take 14 days; I've started yours."


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'web.db'}")
    store.set_admin("ada", hash_password(PASSWORD))
    return store


@pytest.fixture()
def desk() -> RecordingDesk:
    return RecordingDesk()


@pytest.fixture()
def client(store: Store, desk: RecordingDesk) -> TestClient:
    router = Router(store, FakeEngine())
    router.handoffs.attach("slack", desk)
    reply = router.handle_message(IncomingMessage("slack", "C1", "U1", "Refunds <b>?</b>",
                                                  "t1"))
    assert reply.message_id is not None
    router.mark_posted(reply.message_id, "C1:a1")
    router.request_human("slack", "U1", "C1:a1")
    deps = WebDeps(store=store, router=router, pool=AnswerPool(2, 8, 30), ready=lambda: None,
                   secret_key="test-key")
    return TestClient(create_app(deps))


def test_handoffs_need_a_login_and_actions_a_csrf_token(client: TestClient) -> None:
    assert client.get("/api/handoffs").status_code == 401
    assert client.get("/handoffs", follow_redirects=False).headers["location"].startswith(
        "/login")
    for action in ("claim", "resolve"):
        response = client.post(f"/api/handoffs/1/{action}", json={})
        assert response.status_code == 403 and "CSRF" in response.json()["error"]
    log_in(client)
    assert client.post("/api/handoffs/1/claim", headers={"X-CSRF-Token": "forged"}
                       ).status_code == 403


def test_claim_then_resolve_with_the_answer_given(client: TestClient, store: Store,
                                                  desk: RecordingDesk) -> None:
    log_in(client)
    page = client.get("/handoffs").text
    assert '<a href="/handoffs">Hand-offs</a>' in page and 'class="claim" data-id="1"' in page
    assert "Refunds &lt;b&gt;?&lt;/b&gt;" in page  # user text is escaped
    [listed] = client.get("/api/handoffs").json()["handoffs"]
    assert (listed["id"], listed["platform"], listed["status"]) == (1, "slack", "open")
    assert listed["question"] == "Refunds <b>?</b>" and listed["answer"].startswith("Canned")
    token = {"X-CSRF-Token": csrf(client, "/handoffs")}
    claimed = client.post("/api/handoffs/1/claim", headers=token).json()["handoff"]
    assert (claimed["status"], claimed["claimed_by"]) == ("claimed", "web:ada")
    again = client.post("/api/handoffs/1/claim", headers=token)
    assert again.status_code == 400
    assert again.json() == {"error": "hand-off 1 is already claimed by you — resolve it when "
                                     "done"}
    done = client.post("/api/handoffs/1/resolve", json={"answer": ANSWER},
                       headers=token).json()["handoff"]
    assert (done["status"], done["resolved_by"]) == ("resolved", "web:ada")
    [verified] = store.verified_answers()
    assert (done["verified_id"], verified.answer, verified.author) == (verified.id, ANSWER,
                                                                        "web:ada")
    assert client.get("/api/handoffs", params={"status": "open"}).json() == {"handoffs": []}
    assert [h["id"] for h in client.get("/api/handoffs",
                                        params={"status": "resolved"}).json()["handoffs"]] == [1]
    assert "verified answer 1" in client.get("/handoffs?status=resolved").text
    assert [v.status for v in desk.updated] == ["claimed", "resolved"]
    assert [(a.user, a.action) for a in store.admin_actions() if a.action != "login"] == [
        ("ada", "handoff claim 1"), ("ada", "handoff resolve 1"), ("ada", "verify 1")]


def test_bad_requests_get_a_one_line_4xx(client: TestClient) -> None:
    log_in(client)
    token = {"X-CSRF-Token": csrf(client, "/handoffs")}
    missing = client.post("/api/handoffs/99/resolve", json={}, headers=token)
    assert missing.status_code == 400 and "no hand-off 99" in missing.json()["error"]
    empty = client.post("/api/handoffs/1/resolve", json={"answer": "  "}, headers=token)
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    assert client.get("/api/handoffs", params={"status": "closed"}).status_code == 422
    assert client.post("/api/handoffs/x/claim", headers=token).status_code == 422
    assert client.get("/api/handoffs").json()["handoffs"][0]["status"] == "open"
