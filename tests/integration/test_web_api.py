"""The web console's server through Starlette's test client: auth, CSRF, each endpoint's happy
path and its 4xx, health, readiness and metrics (a real SQLite store, a fake engine)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import Answer, Turn
from bot.storage import Store
from bot.web.app import WebDeps, create_app
from bot.web.security import hash_password
from tests.fakes import FakeConsoleOps, make_source

PASSWORD = "correct horse battery"


class StreamingEngine:
    """Streams two sentences, then answers with a source whose text holds a <script>."""

    def answer(self, question: str, history: Sequence[Turn] = (),
               on_text: Callable[[str], None] | None = None) -> Answer:
        if on_text is not None:
            on_text("Refunds take 30 days [1].")
        text = "Refunds take 30 days [1]. Ask billing [1]."
        return Answer(text=text, sources=(make_source(text="<script>alert(1)</script>"),),
                      latency_ms=12.0, model="fake", adapter=None, query=question)


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'web.db'}")
    store.migrate()
    store.set_admin("ada", hash_password(PASSWORD))
    return store


@pytest.fixture()
def ops() -> FakeConsoleOps:
    return FakeConsoleOps()


@pytest.fixture()
def client(store: Store, ops: FakeConsoleOps) -> TestClient:
    router = Router(store, StreamingEngine())
    deps = WebDeps(store=store, router=router, pool=AnswerPool(2, 8, 30),
                   ready=lambda: None, secret_key="test-key", ops=ops)
    return TestClient(create_app(deps))


def csrf(client: TestClient, page: str = "/login") -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', client.get(page).text)
    assert match is not None
    return match.group(1)


def log_in(client: TestClient, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"name": "Ada", "password": password,
                                       "csrf": csrf(client), "next": "/chat"},
                       follow_redirects=False)


def events(body: str) -> list[tuple[str, dict[str, Any]]]:
    found = re.findall(r"event: (\w+)\ndata: (.*)\n\n", body)
    return [(name, json.loads(data)) for name, data in found]


def test_health_readiness_and_metrics_need_no_login(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "supportbot_queue_depth" in metrics.text


def test_not_ready_says_why_with_503(store: Store) -> None:
    deps = WebDeps(store=store, router=Router(store, StreamingEngine()),
                   pool=AnswerPool(1, 1, 30), ready=lambda: "no index yet — run `supportbot "
                   "ingest`", secret_key="k")
    response = TestClient(create_app(deps)).get("/readyz")
    assert response.status_code == 503 and "supportbot ingest" in response.json()["error"]


def test_pages_and_the_api_need_a_login(client: TestClient) -> None:
    page = client.get("/chat", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    token = csrf(client)
    response = client.post("/api/ask", json={"question": "refunds?"},
                           headers={"X-CSRF-Token": token})
    assert response.status_code == 401 and "log in" in response.json()["error"]


def test_a_wrong_password_is_refused_and_five_failures_lock_the_name(client: TestClient) -> None:
    for _ in range(5):
        assert log_in(client, "wrong password").status_code == 401
    locked = log_in(client)
    assert locked.status_code == 429 and "Too many failed logins" in locked.text


def test_login_sets_an_httponly_samesite_cookie_and_is_audited(client: TestClient,
                                                               store: Store) -> None:
    response = log_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/chat"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert [(a.user, a.action) for a in store.admin_actions()] == [("ada", "login")]


def test_state_changing_requests_need_the_csrf_token(client: TestClient) -> None:
    log_in(client)
    for path, body in (("/api/ask", {"question": "refunds?"}),
                       ("/api/feedback", {"ref": "web-1", "score": 1})):
        assert client.post(path, json=body).status_code == 403
        assert client.post(path, json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/login", data={"name": "ada", "password": PASSWORD}).status_code == 403


def test_ask_streams_the_answer_then_votes_and_a_handoff_are_recorded(client: TestClient,
                                                                       store: Store) -> None:
    log_in(client)
    token = csrf(client, "/chat")
    response = client.post("/api/ask", json={"question": "How long do refunds take?",
                                             "conversation": "c1"},
                           headers={"X-CSRF-Token": token})
    assert response.headers["content-type"].startswith("text/event-stream")
    got = events(response.text)
    assert [name for name, _ in got] == ["working", "update", "finish"]
    assert got[1][1]["text"] == "Refunds take 30 days [1]."
    finish = got[2][1]
    assert finish["sources"][0]["text"] == "<script>alert(1)</script>"  # data, never markup
    for score in (1, -1):  # the latest vote wins
        vote = client.post("/api/feedback", json={"ref": finish["ref"], "score": score},
                           headers={"X-CSRF-Token": token})
        assert vote.json() == {"recorded": True}
    assert [(f.user, f.score) for f in store.list_feedback()] == [("ada", -1)]
    human = client.post("/api/handoff", json={"ref": finish["ref"]},
                        headers={"X-CSRF-Token": token})
    assert "support team" in human.json()["text"] and len(store.handoffs()) == 1
    metrics = client.get("/metrics").text
    assert 'supportbot_answers_total{outcome="answered",platform="web"} 1.0' in metrics
    assert 'supportbot_feedback_total{score="-1"} 1.0' in metrics
    assert 'supportbot_questions_total{platform="web"} 1.0' in metrics
    summary = client.get("/api/metrics").json()
    assert summary["answers"] == {"web": {"answered": 1.0}}
    assert summary["totals"]["questions"] == {"web": 1} and summary["queue_depth"] == 0
    assert summary["latency_seconds"]["web"]["count"] == 1.0


def test_bad_input_gets_a_one_line_4xx(client: TestClient) -> None:
    log_in(client)
    token = {"X-CSRF-Token": csrf(client, "/chat")}
    assert client.post("/api/ask", json={"question": ""}, headers=token).status_code == 422
    bad = client.post("/api/feedback", json={"ref": "web-999", "score": 1}, headers=token)
    assert bad.status_code == 404 and "no answer web-999" in bad.json()["error"]
    shape = client.post("/api/feedback", json={"ref": "x", "score": 2}, headers=token)
    assert shape.status_code == 422 and set(shape.json()) == {"error"}
    assert client.post("/slack/events", content=b"{}").status_code == 404


def test_public_chat_lets_visitors_ask_without_a_login(store: Store) -> None:
    deps = WebDeps(store=store, router=Router(store, StreamingEngine()),
                   pool=AnswerPool(1, 2, 30), ready=lambda: None, secret_key="k",
                   public_chat=True)
    client = TestClient(create_app(deps))
    token = csrf(client, "/chat")
    response = client.post("/api/ask", json={"question": "refunds?"},
                           headers={"X-CSRF-Token": token})
    assert events(response.text)[-1][0] == "finish"


def ask(client: TestClient, token: str, question: str, conversation: str) -> str:
    response = client.post("/api/ask", json={"question": question,
                                             "conversation": conversation},
                           headers={"X-CSRF-Token": token})
    return str(events(response.text)[-1][1]["ref"])


def test_conversations_are_listed_filtered_by_a_down_vote_and_opened(client: TestClient) -> None:
    assert client.get("/api/conversations").status_code == 401
    log_in(client)
    token = csrf(client, "/chat")
    ask(client, token, "How long do refunds take?", "first")
    ref = ask(client, token, "Can I pay by wire?", "second")
    client.post("/api/feedback", json={"ref": ref, "score": -1}, headers={"X-CSRF-Token": token})
    listed = client.get("/api/conversations").json()
    assert [c["first_question"] for c in listed["conversations"]] == [
        "Can I pay by wire?", "How long do refunds take?"]  # newest activity first
    assert listed["next"] is None
    down = client.get("/api/conversations", params={"voted_down": "true"}).json()
    assert [c["first_question"] for c in down["conversations"]] == ["Can I pay by wire?"]
    one = client.get(f"/api/conversations/{down['conversations'][0]['id']}").json()
    assert [m["role"] for m in one["messages"]] == ["user", "assistant"]
    assert one["messages"][1]["votes"] == -1 and one["messages"][1]["declined"] is False
    assert client.get("/api/conversations/999").status_code == 404
    assert client.get("/api/conversations", params={"cursor": "nonsense"}).status_code == 400
    page = client.get("/conversations", params={"voted_down": "true"})
    assert "Can I pay by wire?" in page.text and "How long do refunds" not in page.text
    detail = client.get(f"/conversations/{down['conversations'][0]['id']}")
    assert detail.status_code == 200 and "Refunds take 30 days [1]." in detail.text
    ask(client, token, "<script>alert(1)</script> and refunds?", "third")
    third = client.get("/api/conversations").json()["conversations"][0]["id"]
    shown = client.get(f"/conversations/{third}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; and refunds?" in shown
    assert "<script>alert" not in shown


def test_conversation_pages_page_with_a_cursor(store: Store, client: TestClient) -> None:
    for n in range(55):
        conversation = store.conversation("web", "web", f"t{n}", "ada")
        store.add_question(conversation, "ada", f"question {n}")
    log_in(client)
    first = client.get("/api/conversations").json()
    assert len(first["conversations"]) == 50 and first["next"]
    second = client.get("/api/conversations", params={"cursor": first["next"]}).json()
    assert len(second["conversations"]) == 5 and second["next"] is None
    seen = {c["id"] for c in first["conversations"]} | {c["id"] for c in second["conversations"]}
    assert len(seen) == 55


def test_settings_show_what_is_configured_and_never_a_secret(store: Store) -> None:
    from bot.settings import load_settings

    settings = load_settings(slack_bot_token="xoxb-very-secret", web_port=9999).masked()
    deps = WebDeps(store=store, router=Router(store, StreamingEngine()),
                   pool=AnswerPool(1, 1, 30), ready=lambda: None, secret_key="k",
                   settings=settings)
    client = TestClient(create_app(deps))
    assert client.get("/api/settings").status_code == 401
    log_in(client)
    shown = client.get("/api/settings").json()
    assert shown["WEB_PORT"] == "9999" and shown["SLACK_BOT_TOKEN"] == "•••••• (set)"
    assert shown["DISCORD_TOKEN"] == "(not set)"
    page = client.get("/settings").text
    assert "WEB_PORT" in page and "xoxb-very-secret" not in page


def wait_for_job(client: TestClient) -> dict[str, Any]:
    for _ in range(200):
        job = client.get("/api/jobs/current").json()["job"]
        if job["status"] != "running":
            return dict(job)
        time.sleep(0.02)
    raise AssertionError("the job never finished")


def test_refresh_runs_in_the_background_one_at_a_time_and_is_audited(
    client: TestClient, store: Store, ops: FakeConsoleOps
) -> None:
    anonymous = client.post("/api/knowledge/refresh", headers={"X-CSRF-Token": csrf(client)})
    assert anonymous.status_code == 401
    log_in(client)
    token = {"X-CSRF-Token": csrf(client, "/chat")}
    assert client.post("/api/knowledge/refresh").status_code == 403  # no CSRF token
    started = client.post("/api/knowledge/refresh", headers=token)
    assert started.status_code == 202 and started.json()["status"] == "running"
    assert client.post("/api/knowledge/refresh", headers=token).status_code == 409
    done = wait_for_job(client)
    assert done["status"] == "succeeded" and (done["done"], done["total"]) == (5, 5)
    assert ops.refreshes == 1 and len(client.get("/api/knowledge").json()["runs"]) == 1
    assert ("ada", "refresh") in [(a.user, a.action) for a in store.admin_actions()]


def test_quarantine_release_and_adapters_promote_and_roll_back(
    client: TestClient, ops: FakeConsoleOps
) -> None:
    log_in(client)
    token = {"X-CSRF-Token": csrf(client, "/chat")}
    page = client.get("/knowledge").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    released = client.post("/api/knowledge/release", json={"ids": ["q1"]}, headers=token)
    assert released.json()["text"].startswith("Released q1") and ops.released == ["q1"]
    assert client.post("/api/knowledge/release", json={"ids": []},
                       headers=token).status_code == 422
    promoted = client.post("/api/adapters/promote", json={"version": "v2"}, headers=token)
    assert promoted.json() == {"text": "Now serving v2."}
    listed = client.get("/api/adapters").json()["adapters"]
    assert [a["version"] for a in listed if a["active"]] == ["v2"]
    assert client.post("/api/adapters/promote", json={"version": "../x"},
                       headers=token).status_code == 422
    back = client.post("/api/adapters/rollback", headers=token)
    assert back.json() == {"text": "Now serving v1."} and ops.active == "v1"
    model = client.get("/model").text
    assert "(serving)" in model and 'title="this adapter 0.35"' in model  # the gate's chart


def test_without_administration_the_pages_say_so(store: Store) -> None:
    deps = WebDeps(store=store, router=Router(store, StreamingEngine()),
                   pool=AnswerPool(1, 1, 30), ready=lambda: None, secret_key="k")
    client = TestClient(create_app(deps))
    log_in(client)
    missing = client.get("/api/knowledge")
    assert missing.status_code == 404 and "not available" in missing.json()["error"]


def test_trends_count_answers_declines_and_votes_per_day_and_adapter(client: TestClient) -> None:
    log_in(client)
    token = csrf(client, "/chat")
    ref = ask(client, token, "How long do refunds take?", "t1")
    client.post("/api/feedback", json={"ref": ref, "score": 1}, headers={"X-CSRF-Token": token})
    ask(client, token, "And for monthly plans?", "t1")
    rows = client.get("/api/trends", params={"days": 7}).json()["rows"]
    assert [(r["adapter"], r["answers"], r["declines"], r["up"], r["down"]) for r in rows] == [
        ("base", 2, 0, 1, 0)]
    page = client.get("/trends").text
    assert page.count("<polyline") == 4 and "Declines" in page
    assert client.get("/api/trends", params={"days": 0}).status_code == 422


ADMIN_GETS = ("/api/conversations", "/api/conversations/1", "/api/settings", "/api/knowledge",
              "/api/jobs/current", "/api/adapters", "/api/trends", "/api/metrics")
POSTS = ("/api/ask", "/api/feedback", "/api/handoff", "/api/knowledge/refresh",
         "/api/knowledge/release", "/api/adapters/train", "/api/adapters/promote",
         "/api/adapters/rollback")


def test_every_endpoint_needs_a_login_and_every_post_a_csrf_token(client: TestClient) -> None:
    for path in ADMIN_GETS:
        response = client.get(path)
        assert response.status_code == 401 and "log in" in response.json()["error"], path
    for path in POSTS:
        response = client.post(path, json={})
        assert response.status_code == 403 and "CSRF" in response.json()["error"], path
    log_in(client)
    token = {"X-CSRF-Token": csrf(client, "/chat")}
    assert client.post("/api/handoff", json={"ref": "nope"}, headers=token).status_code == 422


def test_training_starts_in_the_background_and_reports_its_result(client: TestClient) -> None:
    log_in(client)
    token = {"X-CSRF-Token": csrf(client, "/chat")}
    started = client.post("/api/adapters/train", headers=token)
    assert started.status_code == 202 and started.json()["kind"] == "train"
    done = wait_for_job(client)
    assert done["status"] == "succeeded" and "rejected by the gate" in done["message"]
