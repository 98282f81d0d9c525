"""Fuzzing the platform edges: generated Slack requests and Discord gateway payloads.

Slack: ``--requests`` requests (signed and unsigned; valid, malformed, oversized, duplicated)
POSTed over loopback to the real bolt app in HTTP mode behind ``SlackEndpoint``. Discord: as many
MESSAGE_CREATE / reaction payloads (user-controlled fields fuzzed, deliveries repeated) fed to
the real discord.py client through its own parsers. The engine is a stub and the Web APIs are
the fakes on loopback. Printed per platform, target 0 for each but the last (< 300 bytes):
5xx responses, crashes (requests the server never answered, handler exceptions), duplicate
replies posted, tracebacks and secrets in the log, log bytes per rejected request.

    python benchmarks/bench_fuzz.py [--requests 10000] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import random
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.limits import AnswerPool  # noqa: E402
from bot.core.router import Router  # noqa: E402
from bot.core.types import Answer, Source, Turn  # noqa: E402
from bot.storage import Store  # noqa: E402
from bot.testing.fake_slack import BOT_USER_ID, FakeSlackAPI, signed_headers  # noqa: E402

SECRET, TOKEN = "fuzz-signing-secret-0123456789", "xoxb-fuzz-bot-token-0123456789"
DISCORD_TOKEN = "fuzz.discord.token-0123456789"
WORDS = ["refund", "<@UBOT0001>", "x" * 2100, "", " ", "\u202e", "é", "\x00", "🙂", "[1]",
         "{", "\\", "<@", ">", "\ud7ff", "$8", "http://x", "<!channel>"]


class StubEngine:
    def answer(self, question: str, history: Sequence[Turn] = (),
               on_text: Callable[[str], None] | None = None) -> Answer:
        src = Source("c1", "docs/a.md", "A", 1.0, "text")
        return Answer("Refunds take 30 days [1].", (src,), 0.1, "stub", None, question)


def fuzz_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    simple = [None, rng.choice([True, False]), rng.randint(-2**40, 2**40), rng.random(),
              rng.choice(WORDS), "".join(rng.choice(WORDS) for _ in range(3))]
    if kind < 6:
        return simple[kind]
    if kind < 8:
        return [fuzz_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["type", "user", "item", "ts", "text", "channel"]
    return {rng.choice(keys): fuzz_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def mention(i: int, text: str = "how do refunds work?") -> dict[str, Any]:
    return {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": f"Ev{i}",
            "event_time": int(time.time()),
            "event": {"type": "app_mention", "user": f"U{i % 50:04d}", "channel": f"C{i}",
                      "ts": f"1700000000.{i:06d}", "text": f"<@{BOT_USER_ID}> {text}"}}


def mutated(rng: random.Random, i: int) -> dict[str, Any]:
    body = mention(i, rng.choice(WORDS))
    event = body["event"]
    for _ in range(rng.randrange(1, 4)):
        target = event if rng.random() < 0.7 else body
        target[rng.choice(list(target) + ["item", "thread_ts", "subtype"])] = fuzz_value(rng)
    if rng.random() < 0.3:
        event["type"] = rng.choice(["reaction_added", "message", "app_home_opened", "x"])
    return body


# one generated request: (body bytes, headers, path, method, event key or "")
Request = tuple[bytes, dict[str, str], str, str, str]


def slack_requests(n: int, seed: int) -> list[Request]:
    rng, out, valid = random.Random(seed), list[Request](), list[Request]()

    def signed(body: bytes, key: str = "", form: bool = False) -> Request:
        headers = signed_headers(SECRET, "")
        digest = __import__("hmac").new(SECRET.encode(), b"v0:" + headers[
            "X-Slack-Request-Timestamp"].encode() + b":" + body, "sha256").hexdigest()
        headers["X-Slack-Signature"] = f"v0={digest}"
        if form:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return body, headers, "/slack/events", "POST", key

    for i in range(n):
        roll = rng.random()
        if roll < 0.15:
            request = signed(json.dumps(mention(i)).encode(), f"1700000000.{i:06d}")
            valid.append(request)
        elif roll < 0.25 and valid:
            body, headers, *rest = rng.choice(valid)
            request = (body, dict(headers, **{"X-Slack-Retry-Num": "1"}), *rest)  # type: ignore[assignment]
        elif roll < 0.30:  # empty or over-long questions, each delivered several times
            request = signed(json.dumps(mention(i, rng.choice(["", "x" * 2100]))).encode(),
                             f"1700000000.{i:06d}")
            out.extend([request] * rng.randrange(1, 5))
        elif roll < 0.50:
            request = signed(json.dumps(mutated(rng, i)).encode())
        elif roll < 0.60:
            form = rng.choice([f"payload={rng.choice(WORDS)}", "command=/kb&text=" +
                               rng.choice(["status", "refresh", "", "train now"]),
                               "%%%&&==", "payload=%7B%7D", "a=b&payload=[1]"])
            request = signed(form.encode(), form=True)
        elif roll < 0.70:
            request = signed(rng.choice([b"[{}]", b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000,
                                         b'{"event": 5}', b"{", b"null", b'"x"', bytes(
                                             rng.randrange(256) for _ in range(40))]))
        elif roll < 0.96:
            body = json.dumps(mention(i)).encode()
            headers = {"Content-Type": "application/json"} | rng.choice([
                {}, {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=1"},
                {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": ""},
                {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": "v0=1"},
                {"X-Slack-Request-Timestamp": str(int(time.time()) - 3600),
                 "X-Slack-Signature": "v0=00"},
                {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0="}])
            request = (rng.choice([body, b"[{}]", b"\xff\xfe{}", b"[" * 5000]), headers,
                       "/slack/events", "POST", "")
        elif roll < 0.99:
            request = (b"{}", {}, rng.choice(["/", "/slack/events/x", "/admin"]),
                       rng.choice(["GET", "POST", "PUT"]), "")
        else:
            request = signed(b"{" + b" " * (2 << 20) + b"}")
        out.append(request)
    return out[:n]


def run_slack(n: int, seed: int, log: io.StringIO) -> dict[str, Any]:
    from bot.adapters.slack import SlackAdapter

    with FakeSlackAPI() as api, tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'fuzz.db'}")
        adapter = SlackAdapter(Router(store, StubEngine()), AnswerPool(2, 10_000, 60),
                               bot_token=TOKEN, signing_secret=SECRET, mode="http",
                               host="127.0.0.1", port=0, api_url=api.url)
        server = threading.Thread(target=adapter.run, daemon=True)
        server.start()
        while adapter._server is None:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{adapter.port}"
        statuses = Counter[int]()

        def send(request: Request) -> int:
            body, headers, path, method, _ = request
            call = urllib.request.Request(url + path, body if method != "GET" else None,
                                          headers, method=method)
            try:
                with urllib.request.urlopen(call, timeout=30) as response:
                    return int(response.status)
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return 0  # no answer at all: a crash

        plan = slack_requests(n, seed)
        with ThreadPoolExecutor(8) as senders:
            statuses.update(senders.map(send, plan))
        wanted = len({key for *_, key in plan if key})
        api.wait_for("chat.postMessage", wanted, timeout=120)
        time.sleep(1.0)  # a second (wrong) reply would show up by now
        # every generated event has a channel of its own ("C<i>"; repeats reuse it): a second
        # post there is a second reply to one message. Posts to fuzzed channels are not counted.
        posts = Counter(str(c.params.get("channel")) for c in api.of("chat.postMessage")
                        if re.fullmatch(r"C\d+", str(c.params.get("channel"))))
        alive = server.is_alive()
        adapter.close()
        store.close()
    rejected = sum(v for k, v in statuses.items() if 400 <= k < 500)
    return summary(statuses, int(not alive) + statuses[0], posts, log, rejected)


def summary(statuses: Counter[int], crashes: int, posts: Counter[str], log: io.StringIO,
            rejected: int) -> dict[str, Any]:
    text = log.getvalue()
    return {"requests": sum(statuses.values()), "statuses": dict(sorted(statuses.items())),
            "5xx": sum(v for k, v in statuses.items() if k >= 500), "crashes": crashes,
            "duplicate_replies": sum(n - 1 for n in posts.values() if n > 1),
            "tracebacks": text.count("Traceback"),
            "secrets_in_log": sum(text.count(s) for s in (SECRET, TOKEN, DISCORD_TOKEN)),
            "log_bytes_per_rejected": round(len(text.encode()) / max(1, rejected), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--log", type=Path, help="also write each platform's log here")
    args = parser.parse_args()
    from fuzz_discord import run_discord

    result = {}
    for name, runner in (("slack", run_slack), ("discord", run_discord)):
        log = io.StringIO()
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
        started = time.perf_counter()
        result[name] = runner(args.requests, args.seed, log) | {
            "seconds": round(time.perf_counter() - started, 1)}
        if args.log:
            with args.log.open("a") as out:
                out.write(log.getvalue())
    print(json.dumps(result) if args.json else render(result))
    asyncio.set_event_loop(None)


def render(result: dict[str, Any]) -> str:
    rows = [("5xx responses", "5xx", "0"), ("crashes", "crashes", "0"),
            ("duplicate replies posted", "duplicate_replies", "0"),
            ("tracebacks in the log", "tracebacks", "0"),
            ("secrets in the log", "secrets_in_log", "0"),
            ("log bytes per rejected request", "log_bytes_per_rejected", "< 300")]
    lines = [f"{'':32} {'slack':>10} {'discord':>10}  target"]
    for label, key, target in rows:
        lines.append(f"{label:32} {result['slack'][key]!s:>10} "
                     f"{result['discord'][key]!s:>10}  {target}")
    lines += [f"{name}: {r['requests']} requests in {r['seconds']} s, statuses {r['statuses']}"
              for name, r in result.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
