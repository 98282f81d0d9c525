"""The console's Conversations page with 100,000 stored messages against an empty database.

Two SQLite stores (migrated like a user's): one empty, one filled with ``--messages`` messages
(5 a conversation, every 10th answer declined, every 20th voted 👎). The real ASGI app serves
both in-process (Starlette's test client, logged in); ``/conversations`` (HTML) and
``/conversations?voted_down=true`` are timed ``--repeat`` times each. Printed: p50/p95 per
database and the p95 ratio filled ÷ empty (target ≤ 3).

    python benchmarks/bench_console.py [--messages 100000] [--repeat 40] [--json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import cpu_features, percentile

PASSWORD = "benchmark-password"


def fill(store: Any, messages: int) -> None:
    """``messages`` rows in bulk (5 a conversation), as the router would have stored them."""
    from sqlalchemy import insert

    from bot.storage.models import Conversation, Feedback, Message

    conversations = messages // 5
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with store.session() as s:
        s.execute(insert(Conversation), [
            {"id": c, "platform": ("slack", "discord", "web")[c % 3], "channel": "C",
             "thread": f"t{c}", "user": f"u{c % 97}", "created_at": start,
             "updated_at": start + timedelta(seconds=c)} for c in range(1, conversations + 1)])
        rows, votes = [], []
        for m in range(1, conversations * 5 + 1):
            c, answer = (m - 1) // 5 + 1, m % 2 == 0
            rows.append({"id": m, "conversation_id": c, "role": "assistant" if answer else "user",
                         "user": f"u{c % 97}", "text": f"message {m} about refunds",
                         "declined": (m % 20 == 0) if answer else None,
                         "adapter": "v1" if answer else None, "created_at": start})
            if answer and m % 40 == 0:
                votes.append({"message_id": m, "platform": "slack", "user": "u1",
                              "reaction": "-1", "score": -1, "created_at": start})
        s.execute(insert(Message), rows)
        s.execute(insert(Feedback), votes)


def timed(client: Any, path: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:200]
    return out


def client_for(folder: Path, messages: int) -> Any:
    import re

    from fastapi.testclient import TestClient

    from bot.core.limits import AnswerPool
    from bot.core.router import Router
    from bot.storage import Store
    from bot.web.app import WebDeps, create_app
    from bot.web.security import hash_password

    store = Store(f"sqlite:///{folder / 'bench.db'}")
    store.migrate()
    store.set_admin("bench", hash_password(PASSWORD))
    if messages:
        fill(store, messages)
    deps = WebDeps(store=store, router=Router(store, None), pool=AnswerPool(1, 1, 1),  # type: ignore[arg-type]
                   ready=lambda: None, secret_key="bench")
    client = TestClient(create_app(deps))
    token = re.search(r'csrf-token" content="([^"]+)"', client.get("/login").text)
    client.post("/login", data={"name": "bench", "password": PASSWORD,
                                "csrf": token.group(1) if token else ""})
    return client


def run(messages: int, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {"messages": messages, "repeat": repeat, "cpu": cpu_features()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, count in (("empty", 0), ("filled", messages)):
            folder = Path(tmp) / name
            folder.mkdir()
            started = time.perf_counter()
            client = client_for(folder, count)
            out[f"{name}_fill_s"] = round(time.perf_counter() - started, 1)
            for label, path in (("page", "/conversations"),
                                ("voted_down", "/conversations?voted_down=true")):
                timed(client, path, 3)  # warm-up
                ms = timed(client, path, repeat)
                out[f"{name}_{label}"] = {"p50_ms": round(percentile(ms, 50), 2),
                                          "p95_ms": round(percentile(ms, 95), 2)}
    for label in ("page", "voted_down"):
        out[f"{label}_p95_ratio"] = round(out[f"filled_{label}"]["p95_ms"]
                                          / out[f"empty_{label}"]["p95_ms"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.messages, args.repeat)
    if args.json:
        import json

        print(json.dumps(result))
        return
    print(f"{args.messages:,} messages, {cpu_features()}")
    for label in ("page", "voted_down"):
        e, f = result[f"empty_{label}"], result[f"filled_{label}"]
        print(f"/conversations {label:10}  empty p50 {e['p50_ms']} ms p95 {e['p95_ms']} ms · "
              f"filled p50 {f['p50_ms']} ms p95 {f['p95_ms']} ms · p95 ratio "
              f"{result[f'{label}_p95_ratio']} (target ≤ 3)")


if __name__ == "__main__":
    main()
