"""Crash safety: ``refresh`` killed with SIGKILL at random points, and many processes writing
through the ``Store`` while some are killed.

Refresh: the sample knowledge base is ingested into a temporary home; each trial edits one
document and starts ``supportbot refresh`` in a process of its own, killed after a random
delay within one refresh's duration. After every trial the live index must load and answer
retrieval, and no lock may be left held. Writers: ``--writers`` processes store questions for
``--seconds`` seconds (every fifth event id shared by all of them, so the duplicate check is
exercised), half of them killed midway; each writer logs an event id only after the store call
returned. Printed: trials, kills, trials with the index not answering (target 0), and
writers, kills, rows committed, rows lost (target 0), shared ids stored twice (target 0) and
SQLite's integrity_check (target ok).

    python benchmarks/bench_crash.py [--trials 26] [--writers 6] [--seconds 30] [--json]
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import base_parser, cpu_features, make_runtime

ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import sys
from bot.storage import Store
url, name, log_path, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
import time
store = Store(url)
conversation = store.conversation("bench", name, "", "user")
deadline, i = time.monotonic() + seconds, 0
with open(log_path, "a", buffering=1) as log:
    while time.monotonic() < deadline:
        event = f"shared-{i}" if i % 5 == 0 else f"{name}-{i}"
        if store.add_question(conversation, "user", f"question {i}", event) is not None:
            log.write(event + "\\n")
        i += 1
"""


def env(home: Path) -> dict[str, str]:
    return {**os.environ, "SUPPORTBOT_HOME": str(home), "HF_HUB_OFFLINE": "1",
            "SHIPPED_ADAPTER": "false", "PYTHONPATH": str(ROOT)}


def refresh_trials(trials: int, seed: int) -> dict[str, Any]:
    from knowledge.ingest import SAMPLE_DOCS

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        home, docs = Path(tmp) / "home", Path(tmp) / "docs"
        subprocess.run(["cp", "-r", str(SAMPLE_DOCS), str(docs)], check=True)
        make_runtime(home).refresh([docs], kind="ingest")
        page = sorted(docs.rglob("*.md"))[0]
        command = [sys.executable, "-m", "bot", "refresh"]
        started = time.monotonic()
        subprocess.run(command, env=env(home), capture_output=True, check=True, timeout=600)
        duration = time.monotonic() - started
        kills = broken = 0
        for trial in range(trials):
            page.write_text(page.read_text() + f"\nTrial {trial} adds this sentence.\n")
            proc = subprocess.Popen(command, env=env(home), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, duration))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=600)
            broken += not _answers(home)
        return {"trials": trials, "kills": kills, "not_answering": broken,
                "refresh_seconds": round(duration, 1)}


def _answers(home: Path) -> bool:
    """The live index loads, retrieves, and no lock is left held."""
    try:
        runtime = make_runtime(home)
        hits = runtime.engine.retriever().retrieve("How do refunds work?").hits
        ok = bool(hits) and not runtime.index_folder.is_refreshing()
        runtime.close()
        return ok
    except Exception as exc:  # noqa: BLE001 - any failure here is what we count
        print(f"trial failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False


def writer_trials(writers: int, seconds: float, seed: int) -> dict[str, Any]:
    from bot.storage import Store

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        url = f"sqlite:///{db}"
        Store(url).close()  # migrated once, before the writers race
        logs = [Path(tmp) / f"w{k}.log" for k in range(writers)]
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, f"w{k}", str(log),
                                   str(seconds)], env=env(Path(tmp) / "home"))
                 for k, log in enumerate(logs)]
        doomed = rng.sample(range(writers), writers // 2)
        time.sleep(seconds * rng.uniform(0.3, 0.7))
        for k in doomed:
            procs[k].send_signal(signal.SIGKILL)
        for proc in procs:
            proc.wait(timeout=seconds + 120)
        committed = {line for log in logs if log.exists()
                     for line in log.read_text().splitlines() if line}
        with sqlite3.connect(db) as conn:
            stored = [row[0] for row in conn.execute(
                "SELECT event_id FROM messages WHERE event_id IS NOT NULL")]
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return {"writers": writers, "kills": len(doomed), "rows_committed": len(committed),
            "rows_lost": len(committed - set(stored)),
            "shared_stored_twice": len(stored) - len(set(stored)), "integrity": integrity}


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--trials", type=int, default=26)
    parser.add_argument("--writers", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result: dict[str, Any] = {"cpu": cpu_features(),
                              "refresh": refresh_trials(args.trials, args.seed),
              "store": writer_trials(args.writers, args.seconds, args.seed)}
    if args.json:
        print(json.dumps(result))
        return
    r, s = result["refresh"], result["store"]
    print(f"{result['cpu']}\n"
          f"refresh: {r['trials']} trials, {r['kills']} killed mid-refresh (one refresh "
          f"{r['refresh_seconds']} s); index not answering after a trial: {r['not_answering']} "
          "(target 0)\n"
          f"store: {s['writers']} writers, {s['kills']} killed; {s['rows_committed']} rows "
          f"committed, {s['rows_lost']} lost (target 0), shared event ids stored twice: "
          f"{s['shared_stored_twice']} (target 0), integrity_check: {s['integrity']}")


if __name__ == "__main__":
    main()
