"""Slack acknowledgement latency and exactly-once answering under duplicates and retries.

200 distinct signed ``app_mention`` events plus 20% extra deliveries (half plain duplicates,
half retries with ``X-Slack-Retry-Num``) are POSTed over loopback to the real bolt app in HTTP
mode, 8 at a time, in shuffled order. The answer engine is stubbed (instant), the Web API is
the fake on loopback. Reported: acknowledgement latency (HTTP round trip of each event POST)
p50/p99, and the number of answers posted (must be exactly 200).

    python benchmarks/bench_slack.py [--events 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.adapters.slack import SlackAdapter  # noqa: E402
from bot.core.limits import AnswerPool  # noqa: E402
from bot.core.router import Router  # noqa: E402
from bot.core.types import Answer, Source, Turn  # noqa: E402
from bot.storage import Store  # noqa: E402
from bot.testing.fake_slack import BOT_USER_ID, FakeSlackAPI, signed_headers  # noqa: E402

SECRET = "bench-secret"


class StubEngine:
    def answer(self, question: str, history: Sequence[Turn] = (),
               on_text: Callable[[str], None] | None = None) -> Answer:
        src = Source("c1", "docs/a.md", "A", 1.0, "text")
        return Answer(f"Answer to {question} [1].", (src,), 0.1, "stub", None, question)


def deliveries(n: int, extra_share: float, seed: int = 0) -> list[tuple[dict[str, object], int]]:
    rng = random.Random(seed)
    events = [{"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
               "event_id": f"Ev{i:05d}", "event_time": int(time.time()),
               "event": {"type": "app_mention", "user": f"U{i % 50:04d}", "channel": "C1",
                         "ts": f"1700000000.{i:06d}", "text": f"<@{BOT_USER_ID}> question {i}"}}
              for i in range(n)]
    out: list[tuple[dict[str, object], int]] = [(e, 0) for e in events]
    for k in range(int(n * extra_share)):
        out.append((rng.choice(events), k % 2))  # duplicate (0) or retry (1)
    rng.shuffle(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with FakeSlackAPI() as api, tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        router = Router(store, StubEngine())
        adapter = SlackAdapter(router, AnswerPool(2, 1000, 60), bot_token="xoxb-bench",
                               signing_secret=SECRET, mode="http", host="127.0.0.1", port=0,
                               api_url=api.url)
        threading.Thread(target=adapter.run, daemon=True).start()
        while adapter._server is None:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{adapter.port}/slack/events"

        def post(item: tuple[dict[str, object], int]) -> float:
            body = json.dumps(item[0])
            headers = signed_headers(SECRET, body)
            if item[1]:
                headers["X-Slack-Retry-Num"] = "1"
            started = time.perf_counter()
            request = urllib.request.Request(url, body.encode(), headers, method="POST")
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
            return (time.perf_counter() - started) * 1000

        plan = deliveries(args.events, 0.2)
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as senders:
            latencies = list(senders.map(post, plan))
        api.wait_for("chat.update", args.events, timeout=120)
        time.sleep(1.0)  # any extra (wrong) answer would show up by now
        wall = time.perf_counter() - started
        answers = len(api.of("chat.update"))
        adapter.close()
        store.close()
    q = statistics.quantiles(latencies, n=100)
    result = {"deliveries": len(plan), "distinct_events": args.events, "answers": answers,
              "exactly_once": answers == args.events, "ack_p50_ms": round(q[49], 1),
              "ack_p99_ms": round(q[98], 1), "target_p99_ms": 300, "seconds": round(wall, 2)}
    if args.json:
        print(json.dumps(result))
    else:
        print(render(result))


def render(result: dict[str, Any]) -> str:
    return (
        f"{result['deliveries']} deliveries of {result['distinct_events']} events "
        "(20% duplicates/retries)\n"
        f"answers posted: {result['answers']} (exactly once: {result['exactly_once']})\n"
        f"ack latency: p50 {result['ack_p50_ms']} ms, p99 {result['ack_p99_ms']} ms "
        f"(target p99 < 300 ms); all answered in {result['seconds']} s"
    )

if __name__ == "__main__":
    main()
