"""The web console end to end in a real headless Chromium (Debian's ``chromium`` driven by
Playwright): log in, ask and watch the answer arrive in parts, open a source, vote, ask for a
person; a document's ``<script>`` shows as text. The server is the real ASGI app on loopback
with a real SQLite store; the engine is a fake that streams in timed parts.

Screenshots of each page go to ``$SCREENSHOTS_DIR`` (default: the test's tmp folder).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import Answer, Turn
from bot.storage import Store
from bot.web.app import WebDeps, create_app
from bot.web.security import hash_password
from bot.web.server import AsgiServer
from tests.fakes import FakeConsoleOps, make_source

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"
PARTS = ("Annual plans can be refunded within 30 days [1].",
         "Annual plans can be refunded within 30 days [1]. Email billing to ask [1].")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium: ./scripts/setup.sh dev")


class PartsEngine:
    """Streams ``PARTS`` 0.4 s apart, then answers citing a document that holds a script."""

    def answer(self, question: str, history: Sequence[Turn] = (),
               on_text: Callable[[str], None] | None = None) -> Answer:
        for part in PARTS:
            time.sleep(0.4)
            if on_text is not None:
                on_text(part)
        source = make_source(source="billing/refunds.md",
                             text="Refunds: 30 days. <script>alert(1)</script>")
        return Answer(text=PARTS[-1], sources=(source,), latency_ms=800.0, model="fake",
                      adapter=None, query=question)


@pytest.fixture()
def console(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    store = Store(f"sqlite:///{tmp_path / 'web.db'}")
    store.migrate()
    store.set_admin("ada", hash_password(PASSWORD))
    deps = WebDeps(store=store, router=Router(store, PartsEngine()), pool=AnswerPool(1, 4, 30),
                   ready=lambda: None, secret_key="e2e-key",
                   ops=FakeConsoleOps(step_seconds=0.3), settings={"WEB_PORT": "0"})
    server = AsgiServer(create_app(deps), "127.0.0.1", 0)
    server.bind()
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}", store
    server.close()
    thread.join(10)


@pytest.fixture()
def page(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page: Any, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=name]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/chat")


def test_log_in_ask_watch_it_stream_open_a_source_vote_and_ask_for_a_person(
    console: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    url, store = console
    folder = shots(tmp_path)
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(f"{url}/chat")
    assert page.url.endswith("/login?next=/chat")
    page.fill("input[name=name]", "ada")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert "Wrong name or password" in page.text_content(".error")
    page.screenshot(path=str(folder / "login.png"))
    page.fill("input[name=name]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/chat")

    page.evaluate("""() => { window.seen = [];
        new MutationObserver(() => document.querySelectorAll('.answer').forEach(
            a => window.seen.push(a.textContent))).observe(document.getElementById('log'),
            {subtree: true, childList: true, characterData: true}); }""")
    page.fill("#question", "Can I get a refund on an annual plan?")
    page.click("#ask button[type=submit]")
    page.wait_for_selector(".actions:not([hidden])")
    seen = [t for t in page.evaluate("window.seen") if t != "Looking that up…"]
    assert seen[0] == PARTS[0] and seen[-1] == PARTS[1]  # a part, before the whole answer

    page.click(".sources summary")
    assert "<script>alert(1)</script>" in page.text_content(".sources pre")
    assert dialogs == []  # shown as text, never run
    page.screenshot(path=str(folder / "chat.png"), full_page=True)

    page.click(".vote[data-score='-1']")
    page.wait_for_selector(".vote.chosen")
    page.click(".human")
    page.wait_for_function("document.querySelector('.status').textContent.includes('team')")
    assert [(f.user, f.score) for f in store.list_feedback()] == [("ada", -1)]
    assert len(store.handoffs()) == 1


def test_refresh_with_live_progress_promote_roll_back_and_filter_by_a_down_vote(
    console: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    url, store = console
    folder = shots(tmp_path)
    log_in(page, url)
    page.fill("#question", "Can I get a refund?")
    page.click("#ask button[type=submit]")
    page.wait_for_selector(".actions:not([hidden])")
    page.click(".vote[data-score='-1']")
    page.wait_for_selector(".vote.chosen")
    page.reload()  # a new page is a new conversation (follow-ups on one page share one)
    page.fill("#question", "Where are my invoices?")
    page.click("#ask button[type=submit]")
    page.wait_for_selector(".actions:not([hidden])")

    page.goto(f"{url}/knowledge")
    assert "<script>alert(1)</script>" in page.text_content("#quarantine")  # text, not markup
    page.click("#refresh")
    page.wait_for_function("document.getElementById('job').textContent.includes('/5')")
    progress = page.text_content("#job")
    assert "running" in progress and "embedding" in progress  # progress while it runs
    page.wait_for_function("document.getElementById('job').textContent.includes('succeeded')")
    page.screenshot(path=str(folder / "knowledge.png"), full_page=True)

    page.goto(f"{url}/model")
    page.click(".promote[data-version='v2']")
    page.wait_for_function("document.querySelector('tr[data-version=\\'v2\\']')"
                           ".textContent.includes('serving')")
    page.screenshot(path=str(folder / "model.png"), full_page=True)
    page.click("#rollback")
    page.wait_for_function("document.querySelector('tr[data-version=\\'v1\\']')"
                           ".textContent.includes('serving')")

    page.goto(f"{url}/conversations")
    assert page.locator("table.conversations tbody tr").count() == 2
    page.check("input[name=voted_down]")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**voted_down=true**")
    rows = page.locator("table.conversations tbody tr")
    assert rows.count() == 1 and "Can I get a refund?" in rows.first.text_content()
    page.screenshot(path=str(folder / "conversations.png"), full_page=True)
    page.goto(f"{url}/settings")
    assert "WEB_PORT" in page.text_content("table")
    page.screenshot(path=str(folder / "settings.png"), full_page=True)
