"""Two real ``supportbot serve`` processes on one PostgreSQL (issue 27), as two workers behind a
load balancer: Slack's signed events over HTTP (the fake Slack Web API on loopback), the index
in pgvector, the real MiniLM and SmolLM2 (a few tokens per answer). The same event delivered to
both is answered once; a ``supportbot refresh`` and an ``adapters promote`` run elsewhere reach
both from their next question."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.runtime import Runtime
from bot.testing.fake_slack import BOT_USER_ID, FakeSlackAPI, signed_headers
from tests.helpers import subprocess_env
from tests.integration.test_cli import run_main
from training.registry import SHIPPED

SECRET = "workers-signing-secret"
CONSOLE = re.compile(r"Console: (http://127\.0\.0\.1:\d+)")
NEW_DOC = ("# Referral bonus\n\nEvery customer who refers a friend to Orbitask gets 500 bonus "
           "points once the friend's first invoice is paid.\n")
REFERRAL = "How many bonus points do I get when I refer a friend?"


class Worker:
    """``supportbot serve`` in a process of its own, its home its own (another machine)."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=home.parent,
            env=subprocess_env(home, **env), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = ""

    def _read(self) -> None:
        assert self.proc.stderr is not None
        self.lines.extend(iter(self.proc.stderr.readline, ""))

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline and self.proc.poll() is None:
            found = next(filter(None, map(CONSOLE.search, list(self.lines))), None)
            if found:
                self.url = found.group(1)
                return
            time.sleep(0.1)
        raise AssertionError("no console URL:\n" + "".join(self.lines[-20:]))

    def event(self, event_id: str, ts: str, question: str) -> int:
        """A signed app_mention, as Slack delivers it to whichever worker it reaches."""
        body = json.dumps({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
                           "event_id": event_id, "event_time": int(time.time()), "event": {
                               "type": "app_mention", "user": "UUSER001", "channel": "C1",
                               "ts": ts, "text": f"<@{BOT_USER_ID}> {question}"}})
        request = urllib.request.Request(f"{self.url}/slack/events", body.encode(),
                                         signed_headers(SECRET, body), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def shared(pg_url: str, tmp_path: Path, corpus: Path, embed_model: Any,
           monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    """``supportbot ARGS`` on an admin's machine against the shared database (in-process,
    with the session's embedding model); the corpus is ingested into pgvector."""
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("VECTOR_STORE", "pgvector")
    monkeypatch.setenv("ADAPTERS_DIR", str(tmp_path / "shared-adapters"))
    monkeypatch.setenv("SUPPORTBOT_HOME", str(tmp_path / "admin"))
    monkeypatch.setenv("LLM_QUANT", "")

    def cli(*args: str) -> tuple[int, str, str]:
        return run_main(*args, build=lambda s: Runtime(s, embed_model=embed_model))

    code, _, err = cli("ingest", str(corpus), "--json")
    assert code == 0, err
    return cli


@pytest.fixture
def workers(pg_url: str, tmp_path: Path, slack: FakeSlackAPI,
            shared: Callable[..., Any]) -> Iterator[tuple[Worker, Worker]]:
    env = {"DATABASE_URL": pg_url, "VECTOR_STORE": "pgvector", "WEB_PORT": "0",
           "ADAPTERS_DIR": str(tmp_path / "shared-adapters"), "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_MODE": "http", "SLACK_API_URL": slack.url,
           "LLM_MAX_NEW_TOKENS": "8", "LLM_QUANT": "", "LLM_MERGE_ADAPTER": "false",
           "TOP_K": "1"}  # a short prompt: the answers' text is not what is tested
    started = [Worker(tmp_path / f"worker-{n}", env) for n in (1, 2)]
    try:
        deadline = time.monotonic() + 240
        for worker in started:
            worker.wait_ready(deadline)
        yield started[0], started[1]
    finally:
        for worker in started:
            worker.stop()
    assert [w.proc.returncode for w in started] == [0, 0], "".join(started[0].lines[-20:])


@pytest.fixture
def database(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


def answers(database: Engine) -> dict[str, tuple[str | None, list[str]]]:
    """Each answered message's ts: (the adapter that answered, the files it cited)."""
    with database.connect() as conn:
        rows = conn.execute(text(
            "SELECT q.event_id, a.adapter, a.sources FROM messages a JOIN messages q "
            "ON a.reply_to_id = q.id WHERE a.role = 'assistant'")).all()
    # the key a Slack message is stored under: its channel and ts, whatever the event's id
    return {key.rsplit(":", 1)[1]: (adapter, [s["source"] for s in sources or []])
            for key, adapter, sources in rows}


def answered(database: Engine, asked: list[str], timeout: float = 120
             ) -> dict[str, tuple[str | None, list[str]]]:
    """``answers`` once every message in ``asked`` has one (stored before it is posted)."""
    deadline = time.monotonic() + timeout
    while not set(asked) <= set(found := answers(database)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(asked) <= set(found), found
    return found


def ask_each(workers: tuple[Worker, Worker], second: int, question: str) -> list[str]:
    """A new message to each worker, posted at ``second``; the ts of each."""
    asked = [f"{second}.{n:06d}" for n in range(len(workers))]
    for ts, worker in zip(asked, workers, strict=True):
        assert worker.event(f"Ev{ts}", ts, question) == 200
    return asked


def test_two_serve_processes_on_one_database(
    workers: tuple[Worker, Worker], slack: FakeSlackAPI, shared: Callable[..., Any],
    database: Engine, corpus: Path, tmp_path: Path
) -> None:
    # one event, delivered to both workers at once: answered once
    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(lambda w: w.event("EvSame", "1700000001.000100",
                                                   "How do I reset my password?"), workers))
    assert statuses == [200, 200]
    assert list(answered(database, ["1700000001.000100"])) == ["1700000001.000100"]
    slack.wait_for("chat.update")
    assert len(slack.of("chat.postMessage")) == 1  # one placeholder, one answer

    # a refresh run elsewhere: both cite the new document from their next question
    (corpus / "referrals.md").write_text(NEW_DOC)
    code, _, err = shared("refresh", "--json")
    assert code == 0, err
    refreshed = ask_each(workers, 1700000100, REFERRAL)
    found = answered(database, refreshed)
    assert all("referrals.md" in found[ts][1] for ts in refreshed), found

    # an adapter promoted elsewhere: both answer with it from their next question
    version = json.loads((SHIPPED / "provenance.json").read_text())["version"]
    folder = tmp_path / "shared-adapters" / version
    folder.mkdir(parents=True)
    shutil.copy(SHIPPED / "adapter.gguf", folder / "adapter.gguf")
    code, out, err = shared("adapters", "promote", version, "--json")
    assert code == 0 and json.loads(out) == {"active": version}, err
    promoted = ask_each(workers, 1700000200, "How do I reset my password?")
    found = answered(database, promoted)
    assert [found[ts][0] for ts in promoted] == [version, version], found
    assert [found[ts][0] for ts in ["1700000001.000100", *refreshed]] == [None, None, None]
    assert len(found) == 5 and len(slack.wait_for("chat.postMessage", 5)) == 5
