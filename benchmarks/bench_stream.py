"""Streaming: time to the first visible sentence against time to the complete answer.

Every question of a QA file is answered by the serving engine with ``on_text`` (what the
terminal chat prints), timing the first call and the finished answer; with ``--slack`` each
question is instead a signed mention POSTed to the real Slack adapter in HTTP mode against the
fake Web API with streaming allowed, timing the first ``chat.startStream`` (or edit) with
answer text and the ``chat.stopStream`` (or final edit). Printed: p50 and p90 of both, the p50
of first ÷ complete per question (target ≤ 0.5), and how many answers showed something before
they were complete.

    python benchmarks/bench_stream.py --home HOME --qa QA.jsonl [--adapter V|PATH]
                                      [--company NAME] [--limit N] [--slack | --console]
                                      [--json]

``--console`` instead answers each question both in the terminal and through the web console's
server (POST /api/ask, server-sent events), alternating which goes first, and prints the p50 of
the first visible text of each and their ratio (target ≤ 1.1).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import cpu_features, make_runtime, percentile, qa_parser


def run(home: Path, qa: Path, adapter: str | None, company: str, limit: int | None,
        slack: bool = False, console: bool = False) -> dict[str, Any]:
    from knowledge.engine import AnswerEngine
    from knowledge.llm import ModelProvider
    from training.evaluate import load_qa

    runtime = make_runtime(home, company_name=company, shipped_adapter=False)
    items = load_qa(qa)[:limit] if limit else load_qa(qa)
    active = runtime.resolve_adapter(adapter) if adapter else None
    model = ModelProvider(runtime.model_spec(), lambda: active).get()
    engine = AnswerEngine(runtime.kb, model, runtime.engine.config)
    engine.answer(items[0].question)  # warm-up: model, index and caches loaded
    if console:
        return _console_result(engine, items, active)
    timings = (_slack_timings(engine, items) if slack
               else [_engine_timing(engine, item.question) for item in items])
    firsts, totals = [f for f, _ in timings], [t for _, t in timings]
    ratios = [f / t for f, t in timings]
    early = sum(1 for f, t in timings if f < t * 0.95)
    return {"questions": len(items), "adapter": active[0] if active else None,
            "path": "slack" if slack else "terminal",
            "cpu": cpu_features(), "first_p50_s": round(statistics.median(firsts), 3),
            "first_p90_s": round(percentile(firsts, 90), 3),
            "complete_p50_s": round(statistics.median(totals), 3),
            "complete_p90_s": round(percentile(totals, 90), 3),
            "first_over_complete_p50": round(statistics.median(ratios), 3),
            "shown_early": early}


def _engine_timing(engine: Any, question: str) -> tuple[float, float]:
    """(seconds to the first on_text, seconds to the answer)."""
    seen: list[float] = []
    started = time.perf_counter()
    engine.answer(question, on_text=_stamp(seen))
    total = time.perf_counter() - started
    return ((seen[0] - started) if seen else total), total


def _slack_timings(engine: Any, items: list[Any]) -> list[tuple[float, float]]:
    """Each question as a signed mention to the Slack adapter; times from the fake API."""
    import json
    import tempfile
    import threading
    import urllib.request

    from bot.adapters.slack import SlackAdapter
    from bot.core.limits import AnswerPool
    from bot.core.router import Router
    from bot.storage import Store
    from bot.testing.fake_slack import BOT_USER_ID, FakeSlackAPI, signed_headers

    out = []
    with FakeSlackAPI(streaming=True) as api, tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'stream.db'}")
        adapter = SlackAdapter(Router(store, engine), AnswerPool(1, 100, 600), bot_token="xoxb-b",
                               signing_secret="s", mode="http", host="127.0.0.1", port=0,
                               api_url=api.url)
        threading.Thread(target=adapter.run, daemon=True).start()
        while adapter._server is None:
            time.sleep(0.01)
        for i, item in enumerate(items):
            channel = f"C{i}"
            body = json.dumps({"type": "event_callback", "event_id": f"Ev{i}", "event": {
                "type": "app_mention", "user": "U1", "channel": channel,
                "ts": f"1700000000.{i:06d}", "text": f"<@{BOT_USER_ID}> {item.question}"}})
            started = time.monotonic()
            request = urllib.request.Request(f"http://127.0.0.1:{adapter.port}/slack/events",
                                             body.encode(), signed_headers("s", body))
            urllib.request.urlopen(request, timeout=30).close()
            out.append(_visible(api, channel, started))
        adapter.close()
        store.close()
    return out


def _visible(api: Any, channel: str, started: float, limit: float = 600) -> tuple[float, float]:
    """(first answer text shown, answer complete) in the channel, in seconds from ``started``."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        calls = [c for c in list(api.calls) if c.params.get("channel") == channel]
        done = [c for c in calls if c.method == "chat.stopStream" or (
            c.method == "chat.update" and not str(c.params.get("text", "")).endswith(" …"))]
        if done:
            shown = [c for c in calls if c.method in ("chat.startStream", "chat.update")]
            return shown[0].at - started, done[-1].at - started
        time.sleep(0.01)
    raise SystemExit(f"error: no answer in {channel} within {limit:.0f} s")


def _console_result(engine: Any, items: list[Any], active: Any) -> dict[str, Any]:
    """Each question answered twice, in the terminal (``on_text``) and through the web
    console's server (``POST /api/ask`` on loopback, server-sent events), alternating which
    goes first, each from an empty quote cache (else the second of a pair finds the first's
    sentence embeddings cached, and the p50 of two such mixes compares caches, not paths);
    the p50 of the first visible text of each and their ratio (target ≤ 1.1)."""
    terminal: list[float] = []
    console: list[float] = []

    def cold() -> None:  # both paths start from the same cache state: none
        if engine.quoter is not None:
            engine.quoter.clear()

    with _console_server(engine) as ask:
        for i, item in enumerate(items):
            if i % 2:
                cold()
                console.append(ask(item.question))
            cold()
            terminal.append(_engine_timing(engine, item.question)[0])
            if not i % 2:
                cold()
                console.append(ask(item.question))
    t50, c50 = statistics.median(terminal), statistics.median(console)
    return {"questions": len(items), "adapter": active[0] if active else None,
            "path": "console vs terminal", "cpu": cpu_features(),
            "terminal_first_p50_s": round(t50, 3), "console_first_p50_s": round(c50, 3),
            "console_over_terminal_p50": round(c50 / t50, 3)}


@contextmanager
def _console_server(engine: Any) -> Iterator[Callable[[str], float]]:
    """The web console's real server on loopback (public chat); yields ``ask(question)`` →
    seconds to the first event with answer text."""
    import re
    import tempfile
    import threading

    import httpx

    from bot.core.limits import AnswerPool
    from bot.core.router import Router
    from bot.storage import Store
    from bot.web.app import WebDeps, create_app
    from bot.web.server import AsgiServer

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'console.db'}")
        store.migrate()
        deps = WebDeps(store=store, router=Router(store, engine), pool=AnswerPool(1, 100, 600),
                       ready=lambda: None, secret_key="bench", public_chat=True)
        server = AsgiServer(create_app(deps), "127.0.0.1", 0)
        server.bind()
        threading.Thread(target=server.run, daemon=True).start()
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=600) as client:
            found = re.search(r'csrf-token" content="([^"]+)"', client.get("/chat").text)
            headers = {"X-CSRF-Token": found.group(1) if found else ""}

            def ask(question: str) -> float:
                started, first = time.perf_counter(), None
                with client.stream("POST", "/api/ask", json={"question": question},
                                   headers=headers) as response:
                    for line in response.iter_lines():  # to the end: the answer finishes
                        if first is None and line in ("event: update", "event: finish",
                                                      "event: notice"):
                            first = time.perf_counter() - started
                if first is None:
                    raise SystemExit("error: the console answered without an event")
                return first

            yield ask
        server.close()
        store.close()


def _stamp(seen: list[float]) -> Any:
    """An ``on_text`` that records when it was called."""
    def record(_text: str) -> None:
        seen.append(time.perf_counter())
    return record


def main() -> None:
    parser = qa_parser(__doc__ or "", "the base model")
    parser.add_argument("--slack", action="store_true", help="through the Slack adapter")
    parser.add_argument("--console", action="store_true",
                        help="the web console's server against the terminal, in one run")
    args = parser.parse_args()
    result = run(args.home, args.qa, args.adapter, args.company, args.limit, args.slack,
                 args.console)
    if args.json:
        import json

        print(json.dumps(result))
        return
    if args.console:
        print(f"{result['questions']} questions, adapter {result['adapter']}, {result['cpu']}\n"
              f"first visible text p50: terminal {result['terminal_first_p50_s']} s, console "
              f"{result['console_first_p50_s']} s; console ÷ terminal "
              f"{result['console_over_terminal_p50']} (target ≤ 1.1)")
        return
    print(f"{result['questions']} questions ({result['path']}), adapter {result['adapter']}, "
          f"{result['cpu']}\n"
          f"first visible sentence: p50 {result['first_p50_s']} s, p90 {result['first_p90_s']} s"
          f"\ncomplete answer:        p50 {result['complete_p50_s']} s, p90 "
          f"{result['complete_p90_s']} s\nfirst ÷ complete, p50 of questions: "
          f"{result['first_over_complete_p50']} (target ≤ 0.5); shown before complete: "
          f"{result['shown_early']} of {result['questions']}")


if __name__ == "__main__":
    main()
