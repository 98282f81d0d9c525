"""``supportbot serve`` on a fresh home, as a user starts it: the console comes up with the
sample knowledge base and the real small models, prints its URL and a first-start login,
answers over its API, reports health, readiness and metrics, and stops on SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.helpers import subprocess_env

CONSOLE = re.compile(r"Console: (http://127\.0\.0\.1:\d+) .*log in as admin / (\S+) ")


def wait_for_console(proc: subprocess.Popen[str], lines: list[str],
                     timeout: float = 300) -> re.Match[str]:
    """The console line of ``proc``'s stderr (read by a thread, so a silent process cannot
    block the test past ``timeout``)."""
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = next(filter(None, map(CONSOLE.search, list(lines))), None)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("no console URL:\n" + "".join(lines[-20:]))


def token(client: httpx.Client, page: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(page).text)
    assert found is not None
    return found.group(1)


def test_serve_starts_the_console_on_the_sample_knowledge_base(tmp_path: Path) -> None:
    env = subprocess_env(tmp_path / "home", WEB_PORT="0")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        found = wait_for_console(proc, lines)
        url, password = found.group(1), found.group(2)
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").json() == {"status": "ready"}
            login = client.post("/login", data={"name": "admin", "password": password,
                                                "csrf": token(client, "/login")})
            assert login.status_code == 303
            answer = client.post("/api/ask", json={"question": "How do I reset my password?"},
                                 headers={"X-CSRF-Token": token(client, "/chat")})
            finish = [json.loads(d) for e, d in re.findall(r"event: (\w+)\ndata: (.*)\n",
                                                           answer.text) if e == "finish"]
            assert finish and finish[0]["sources"] and finish[0]["text"], answer.text
            assert 'supportbot_answers_total{outcome=' in client.get("/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, "".join(lines[-20:])
