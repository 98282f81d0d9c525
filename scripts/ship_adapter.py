"""Build the adapter a fresh clone serves, with the project's own commands, and ship it.

    .venv/bin/python scripts/ship_adapter.py [--home DIR]

In a fresh home (``SHIPPED_ADAPTER=false``, so it starts from the base model) this runs
``supportbot ingest`` (the sample knowledge base) and ``supportbot train`` with its defaults
(the seed set, RAFT examples from the sample documents, the gate on the sample QA file). Only
an adapter the gate promoted is shipped: ``training/shipped/adapter.gguf`` and, beside it,
``provenance.json`` — the commands, the git commit, the CPU, the data hash, the training
config, the metrics and the gate's report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "training" / "shipped"
BIN = REPO / ".venv" / "bin" / "supportbot"
COMMANDS = (["ingest", "--json"], ["train", "--json"])


def run(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        sys.exit(f"error: supportbot {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def provenance(home: Path, result: dict[str, Any], seconds: float) -> dict[str, Any]:
    folder = home / "adapters" / result["adapter"]
    report = json.loads((folder / "metrics.json").read_text())
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                            text=True, check=False).stdout.strip()
    return {
        "version": result["adapter"],
        "built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commands": [f"supportbot {' '.join(c)}" for c in COMMANDS],
        "built_by": "scripts/ship_adapter.py (fresh SUPPORTBOT_HOME, default settings)",
        "git_commit": commit, "cpu": cpu(), "seconds": round(seconds),
        "data": "training/seed/tone.jsonl as RAFT examples over knowledge/sample/docs; "
                "gate on knowledge/sample/qa.jsonl",
        "data_hash": report.get("data_hash"), "examples": report.get("examples"),
        "config": json.loads((folder / "train_config.json").read_text()),
        "metrics": report.get("metrics"), "gate": report.get("gate"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--home", type=Path, help="home to build in (default: a temporary one)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="supportbot-ship-"))
    env = {**os.environ, "SUPPORTBOT_HOME": str(home), "SHIPPED_ADAPTER": "false",
           "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    for command in COMMANDS[:-1]:
        run(list(command), env)
    result = run(list(COMMANDS[-1]), env)
    if not result["promoted"]:
        sys.exit(f"error: the gate rejected {result['adapter']} "
                 f"({'; '.join(result['gate'].get('reasons', []))}) — nothing shipped.")
    data = provenance(home, result, time.perf_counter() - started)
    SHIPPED.mkdir(exist_ok=True)
    shutil.copy2(home / "adapters" / result["adapter"] / "adapter.gguf", SHIPPED / "adapter.gguf")
    (SHIPPED / "provenance.json").write_text(json.dumps(data, indent=2) + "\n")
    print(f"shipped {data['version']} ({data['examples']} examples, {data['seconds']} s) "
          f"to {SHIPPED}")


if __name__ == "__main__":
    main()
