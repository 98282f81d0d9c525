"""Plumbing throughput: 1, 2 and 4 serve workers on one PostgreSQL, the engine stubbed.

A "worker" is a process of its own that builds what ``supportbot serve`` builds — the
``Runtime`` from settings (``DATABASE_URL`` on one PostgreSQL, Slack in HTTP mode,
``WEB_ENABLED=false`` so ``slack_app`` serves ``/slack/events``), ``configured_adapters`` and
``run_all`` with its graceful drain — except that the answer engine is a stub that takes a
fixed ``--think`` seconds per answer (default 0.2 s, standing in for a generation server: the
work is elsewhere, so more workers help even on 2 cores) and ``MAX_PENDING`` holds the whole
load. ``serve`` itself has no setting for a stub engine, so this script is the worker's entry
(``--worker``); the stub is put where ``Runtime.engine`` is cached, as ``Runtime`` itself does
for the models passed to it. Everything else is the product: signature check, bolt, router,
store (PostgreSQL), answer pool, the Slack surface posting to the fake Web API on loopback.

For each worker count a fresh database gets ``--events`` signed ``app_mention`` events,
POSTed round-robin over the workers (as a load balancer would), ``--senders`` at a time;
``--rounds`` runs per count, in the order 1 2 4 4 2 1 (drift in the machine's load cancels).
Reported per count: answers per second (events ÷ time from the first POST to the last answer
posted; median of the rounds), acknowledgement latency p50/p99 (the HTTP round trip of each
POST), CPU milliseconds per answer of the workers, the PostgreSQL server and this process (the
senders and the fake Web API), and the ratios over 1 worker (targets: >= 1.7x at 2, >= 3x at
4). Every event must be answered exactly once.

    python benchmarks/bench_workers.py [--events 240] [--rounds 2] [--think 0.2] [--json]
    (~4.5 min)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import base_parser, emit, machine, median, percentile, table  # noqa: E402
from pg_common import new_database, pg_server, server_versions  # noqa: E402

from bot.testing.fake_slack import BOT_USER_ID, FakeSlackAPI, signed_headers  # noqa: E402

SECRET, TOKEN = "bench-workers-signing-secret", "xoxb-bench-workers"
COUNTS = (1, 2, 4)
TARGETS = {2: 1.7, 4: 3.0}
MARK = "[stub answer]"


class SleepEngine:
    """The answer engine's port: a fixed time per answer, no CPU (a generation server's)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def answer(self, question: str, history: Sequence[Any] = (),
               on_text: Callable[[str], None] | None = None) -> Any:
        from knowledge.types import Answer, Source

        time.sleep(self.seconds)
        src = Source("c1", "docs/manual.md", "Manual", 1.0, "Remote support is available.")
        return Answer(f"{MARK} Remote support is available [1].", (src,), self.seconds * 1000,
                      "stub", None, question)


def worker(think: float) -> None:
    """One worker: ``serve``'s adapters and drain from the environment's settings."""
    from bot.runtime import Runtime
    from bot.serve import Drain, configured_adapters, run_all
    from bot.settings import load_settings

    runtime = Runtime(load_settings(_env_file=None))
    runtime.__dict__["engine"] = SleepEngine(think)  # Runtime.engine is a cached_property
    run_all(configured_adapters(runtime),
            Drain(runtime.router, runtime.pool, runtime.settings.shutdown_grace))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_workers(count: int, db_url: str, api_url: str, think: float, events: int,
                  tmp: Path) -> list[tuple[subprocess.Popen[bytes], int]]:
    started = []
    for k in range(count):
        port, home = free_port(), tmp / f"home-{count}-{k}"
        env = dict(os.environ, SUPPORTBOT_HOME=str(home), DATABASE_URL=db_url,
                   SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_MODE="http",
                   SLACK_HOST="127.0.0.1", SLACK_PORT=str(port), SLACK_API_URL=api_url,
                   SLACK_STREAMING="false", WEB_ENABLED="false", MAX_PENDING=str(events),
                   HF_HUB_OFFLINE="1")
        log = (tmp / f"worker-{count}-{k}.log").open("wb")
        proc = subprocess.Popen([sys.executable, __file__, "--worker", "--think", str(think)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((proc, port))
    for proc, port in started:
        wait_ready(proc, port, tmp)
    return started


def wait_ready(proc: subprocess.Popen[bytes], port: int, tmp: Path,
               timeout: float = 120.0) -> None:
    """Until the worker answers HTTP on its port (GET → 405: the endpoint is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            logs = "\n".join(p.read_text()[-2000:] for p in tmp.glob("worker-*.log"))
            sys.exit(f"error: a worker exited with {proc.returncode}:\n{logs}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/slack/events", timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"error: a worker did not listen on port {port} within {timeout:.0f} s")


def stop_workers(started: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    for proc, _ in started:
        proc.send_signal(signal.SIGTERM)
    for proc, _ in started:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (Linux ``/proc``; gone ones count 0)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (the PostgreSQL server: postmaster and backends)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += frontier
    return tree


class CpuMeter:
    """CPU seconds used by the workers, the PostgreSQL server and this process (the fake
    Slack API and the senders) between ``__init__`` and ``take``."""

    def __init__(self, workers: Sequence[int], postmaster: int) -> None:
        self.workers, self.postmaster = list(workers), postmaster
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        return {"workers": cpu_seconds(self.workers),
                "postgres": cpu_seconds(process_tree(self.postmaster)),
                "bench": time.process_time()}

    def take(self) -> dict[str, float]:
        return {k: v - self.start[k] for k, v in self._now().items()}


def event(run: int, i: int) -> bytes:
    return json.dumps({
        "type": "event_callback", "team_id": "T1", "api_app_id": "A1",
        "event_id": f"Ev{run}x{i:06d}", "event_time": int(time.time()),
        "event": {"type": "app_mention", "user": f"U{run}{i:06d}", "channel": f"C{run}",
                  "ts": f"17000{run:05d}.{i:06d}",
                  "text": f"<@{BOT_USER_ID}> how does remote support work? ({i})"}}).encode()


def post(url: str, body: bytes) -> float:
    """One signed delivery; its acknowledgement latency in ms."""
    headers = signed_headers(SECRET, body.decode())
    started = time.perf_counter()
    request = urllib.request.Request(url, body, headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status} from {url}")
    return (time.perf_counter() - started) * 1000


def measure(count: int, run: int, server: Any, args: Any, tmp: Path) -> dict[str, Any]:
    """One worker count on a fresh database: seconds, ack latencies, CPU, answers posted."""
    from bot.storage import Store

    db_url = new_database(server, f"workers{count}")
    Store(db_url).close()  # migrated once here, not raced by the workers
    with FakeSlackAPI() as api:
        workers = start_workers(count, db_url, api.url, args.think, args.events, tmp)
        urls = [f"http://127.0.0.1:{port}/slack/events" for _, port in workers]
        plan = [(urls[i % count], event(run, i)) for i in range(args.events)]
        meter = CpuMeter([p.pid for p, _ in workers], int(server.get_pid()))
        started = time.monotonic()
        with ThreadPoolExecutor(args.senders) as senders:
            acks = list(senders.map(lambda item: post(*item), plan))
        answered = wait_answers(api, args.events, timeout=60 + args.events * args.think * 2)
        seconds = max(c.at for c in answered) - started
        cpu = meter.take()
        time.sleep(1.0)  # a duplicate answer would show up by now
        answers = len(answer_calls(api))
        stop_workers(workers)
    return {"seconds": seconds, "acks": acks, "cpu": cpu, "answers": answers}


def summary(count: int, events: int, measured: list[dict[str, Any]]) -> dict[str, Any]:
    """A worker count over its rounds: the median throughput, ack percentiles over every
    delivery, mean CPU per answer."""
    rates = [events / m["seconds"] for m in measured]
    acks = [a for m in measured for a in m["acks"]]
    cpu = {k: sum(m["cpu"][k] for m in measured) * 1000 / (events * len(measured))
           for k in measured[0]["cpu"]}
    seconds = sum(m["seconds"] for m in measured)
    return {"workers": count, "events": events * len(measured),
            "answers": sum(m["answers"] for m in measured),
            "exactly_once": all(m["answers"] == events for m in measured),
            "answers_per_s": round(median(rates), 2),
            "answers_per_s_rounds": [round(r, 2) for r in rates],
            "ack_p50_ms": round(percentile(acks, 50), 1),
            "ack_p99_ms": round(percentile(acks, 99), 1),
            "cpu_ms_per_answer": {k: round(v, 1) for k, v in cpu.items()},
            "cpu_cores_busy": round(sum(sum(m["cpu"].values()) for m in measured) / seconds, 2)}


def answer_calls(api: FakeSlackAPI) -> list[Any]:
    return [c for c in api.of("chat.update") if MARK in str(c.params.get("text", ""))]


def wait_answers(api: FakeSlackAPI, count: int, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = answer_calls(api)
        if len(found) >= count:
            return found
        time.sleep(0.02)
    sys.exit(f"error: {len(answer_calls(api))} of {count} answers posted in {timeout:.0f} s")


def render(result: dict[str, Any]) -> str:
    rows = [(r["workers"], r["answers_per_s"], r["speedup"], r["ack_p50_ms"], r["ack_p99_ms"],
             f"{r['answers']}/{r['events']}", " / ".join(
                 str(v) for v in r["cpu_ms_per_answer"].values()), r["cpu_cores_busy"])
            for r in result["runs"]]
    targets = "; ".join(f"{n} workers: {t['speedup']:.2f}x (target >= {t['target']}x: "
                        f"{'met' if t['met'] else 'NOT met'})"
                        for n, t in result["targets"].items())
    return (f"Plumbing throughput — {result['events']} signed Slack events per run, "
            f"{result['rounds']} runs per worker count (median answers/s), engine "
            f"stubbed at {result['think_s']} s per answer, WORKERS={result['pool_threads']} "
            f"answer threads per process, one PostgreSQL {result['versions']['postgresql']}\n"
            + table(rows, ("workers", "answers/s", "x 1 worker", "ack p50 ms", "ack p99 ms",
                           "answered", "CPU ms/answer: workers / postgres / bench",
                           "cores busy"))
            + f"\n{targets}; every event answered exactly once: {result['exactly_once']}"
            + f"\nmachine: {result['machine']['cpus']} CPUs ({result['machine']['cpu_features']})"
            + f", 1-min load average {result['machine']['load_avg_1m']} at the start")


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--events", type=int, default=240, help="events per worker count")
    parser.add_argument("--think", type=float, default=0.2, help="stub seconds per answer")
    parser.add_argument("--senders", type=int, default=8, help="POSTs in flight at once")
    parser.add_argument("--rounds", type=int, default=2,
                        help="measurements per worker count, in order 1 2 4 4 2 1 ...")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.think)
        return
    on = machine()  # the load average before this run adds to it
    with pg_server() as server, tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        order = [n for r in range(args.rounds) for n in (COUNTS if r % 2 == 0 else COUNTS[::-1])]
        measured: dict[int, list[dict[str, Any]]] = {n: [] for n in COUNTS}
        for k, count in enumerate(order):  # 1 2 4 4 2 1 ...: drift in the load cancels out
            measured[count].append(measure(count, k, server, args, Path(tmp)))
        versions = server_versions(new_database(server, "versions"))
    runs = [summary(n, args.events, measured[n]) for n in COUNTS]
    base = runs[0]["answers_per_s"]
    for row in runs:
        row["speedup"] = round(row["answers_per_s"] / base, 2)
    targets = {str(n): {"speedup": runs[COUNTS.index(n)]["speedup"], "target": t,
                        "met": runs[COUNTS.index(n)]["speedup"] >= t}
               for n, t in TARGETS.items()}
    from bot.settings import Settings

    result = {"benchmark": "workers", "machine": on, "versions": versions,
              "events": args.events, "rounds": args.rounds, "think_s": args.think,
              "senders": args.senders,
              "pool_threads": Settings.model_fields["workers"].default,
              "runs": runs, "targets": targets,
              "exactly_once": all(r["exactly_once"] for r in runs)}
    emit(result, args.json, render(result))


if __name__ == "__main__":
    main()
