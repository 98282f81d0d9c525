"""Start-up cost of the cheap commands, run as a user runs them (target: <= 2 s each).

Each command runs ``--runs`` times (default 3) as a fresh ``supportbot`` process, and the
median wall time is reported against the target:

* ``status`` on a fresh ``SUPPORTBOT_HOME`` (the first run creates the database) and on one
  with an index built (three sample documents, ingested once before timing);
* ``refresh`` refused because another refresh holds the index's lock (this script holds
  ``index/refresh.lock``, as ``IndexFolder.lock`` does), expected exit code 3;
* ``ingest /nonexistent``, expected exit code 2.

None of them should import torch, LlamaIndex or llama.cpp (tests/integration/test_startup.py
checks that); what is left is Python, typer, pydantic-settings, SQLAlchemy and Alembic.

    python benchmarks/bench_startup.py [--runs 3] [--json]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import base_parser, emit, machine, table

TARGET_S = 2.0
SAMPLE_FILES = 3


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def supportbot() -> list[str]:
    """The installed ``supportbot`` script beside this Python, else ``python -m bot``."""
    script = Path(sys.executable).parent / "supportbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def run(args: list[str], home: Path, cwd: Path) -> tuple[float, int, str]:
    env = {**os.environ, "SUPPORTBOT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.run([*supportbot(), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started, proc.returncode, proc.stderr.strip()


def timed(name: str, args: list[str], home: Path, cwd: Path, expect: int,
          runs: int) -> dict[str, Any]:
    times: list[float] = []
    for _ in range(runs):
        seconds, code, stderr = run(args, home, cwd)
        if code != expect:
            sys.exit(f"error: `supportbot {' '.join(args)}` exited {code}, expected {expect}: "
                     f"{stderr.splitlines()[-1] if stderr else ''}")
        times.append(seconds)
    median = statistics.median(times)
    return {"command": name, "median_s": round(median, 3), "runs_s": [round(t, 3) for t in times],
            "target_s": TARGET_S, "ok": median <= TARGET_S}


def build_index(home: Path, cwd: Path) -> None:
    from knowledge.ingest import SAMPLE_DOCS

    docs = cwd / "docs"
    docs.mkdir()
    for path in sorted(SAMPLE_DOCS.rglob("*.md"))[:SAMPLE_FILES]:
        shutil.copy(path, docs / f"{path.parent.name}-{path.name}")
    _, code, stderr = run(["ingest", str(docs), "--json"], home, cwd)
    if code != 0:
        sys.exit(f"error: building the index failed: {stderr}")


def measure(runs: int) -> list[dict[str, Any]]:
    from filelock import FileLock

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        root = Path(tmp)
        fresh, built = root / "fresh", root / "built"
        rows = [timed("status (fresh home)", ["status"], fresh, root, 0, runs),
                timed("ingest /nonexistent", ["ingest", "/nonexistent"], fresh, root, 2, runs)]
        build_index(built, root)
        rows.append(timed("status (index built)", ["status"], built, root, 0, runs))
        # Another refresh is running: the lock knowledge.folder.IndexFolder.lock takes
        # (FileLock on the path itself, so the script also times older checkouts).
        with FileLock(str(built / "index" / "refresh.lock")):
            rows.append(timed("refresh (refused)", ["refresh"], built, root, 3, runs))
    return rows


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--runs", type=int, default=3, help="runs per command (median)")
    args = parser.parse_args()
    rows = measure(args.runs)
    result = {"benchmark": "startup", "machine": {**machine(), "cpu_model": cpu_model()},
              "commands": rows}
    text = table([(r["command"], r["median_s"], r["target_s"], "yes" if r["ok"] else "NO")
                  for r in rows], ["command", "median s", "target s", "within"])
    emit(result, args.json, f"{text}\nCPU: {cpu_model()}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
