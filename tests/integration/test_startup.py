"""Start-up cost: cheap commands answer without importing a model library, and ``ask --json``
reports loading apart from answering.

The import checks run the command in a fresh process and list the heavy packages in
``sys.modules`` afterwards: importing any of them costs seconds (torch alone ~2 s here).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from typer.testing import CliRunner

from bot.cli import app
from bot.runtime import Runtime
from tests.fakes import FakeChatModel
from tests.helpers import subprocess_env

HEAVY = ("torch", "transformers", "sentence_transformers", "llama_index", "llama_cpp", "faiss")
PROBE = """
import json, sys
from bot.cli import main
out, sys.argv = sys.argv[1], ["supportbot", *sys.argv[2:]]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted({name.split(".")[0] for name in sys.modules} & HEAVY)
with open(out, "w") as fh:
    json.dump({"code": code, "heavy": heavy, "alembic": "alembic" in sys.modules}, fh)
"""


def probe(args: list[str], home: Path, tmp_path: Path) -> dict[str, Any]:
    """Run ``supportbot ARGS`` in a fresh process; its exit code and the heavy modules loaded."""
    out = tmp_path / "probe.json"
    script = f"HEAVY = {set(HEAVY)!r}\n{PROBE}"
    proc = subprocess.run([sys.executable, "-c", script, str(out), *args], cwd=tmp_path,
                          env=subprocess_env(home), capture_output=True, text=True, timeout=120)
    assert out.exists(), proc.stderr
    result: dict[str, Any] = json.loads(out.read_text())
    result["stderr"] = proc.stderr
    return result


@pytest.mark.parametrize(("args", "code", "says"), [
    (["status", "--json"], 0, ""),
    (["ingest", "missing-folder"], 2, "no such file or folder"),
    (["ask", "How do refunds work?"], 2, "No knowledge index yet"),
    (["train", "--data", "missing.jsonl"], 2, "no such file — check the path"),
    (["feedback", "export", "--out", "fb.jsonl"], 0, ""),
])
def test_cheap_commands_on_a_fresh_home_import_no_model_library(
    args: list[str], code: int, says: str, home: Path, tmp_path: Path
) -> None:
    result = probe(args, home, tmp_path)
    assert result["code"] == code, result["stderr"]
    assert says in result["stderr"]
    assert result["heavy"] == []


def test_cheap_commands_on_a_built_index_import_no_model_library(
    make_runtime: Callable[..., Any], corpus: Path, home: Path, tmp_path: Path
) -> None:
    make_runtime().refresh([corpus], kind="ingest")
    status = probe(["status", "--json"], home, tmp_path)
    assert status["code"] == 0, status["stderr"]
    assert status["heavy"] == []
    assert not status["alembic"]  # the database is at the newest migration already
    with FileLock(str(home / "index" / "refresh.lock")):  # another refresh is running
        refused = probe(["refresh"], home, tmp_path)
    assert refused["code"] == 3, refused["stderr"]
    assert "already running" in refused["stderr"]
    assert refused["heavy"] == []


LOAD_SECONDS = 2.0  # the stand-in model's load time: far above a retrieval on four documents


def test_ask_json_reports_loading_apart_from_answering(
    make_runtime: Callable[..., Any], corpus: Path, embed_model: Any
) -> None:
    make_runtime().refresh([corpus], kind="ingest")

    def slow_load(spec: Any) -> FakeChatModel:
        time.sleep(LOAD_SECONDS)
        return FakeChatModel("Open Profile settings > Security and click Enable two-factor "
                             "authentication [1].")

    def build(settings: Any) -> Runtime:
        return Runtime(settings, embed_model=embed_model, chat_loader=slow_load)

    result = CliRunner().invoke(app, ["ask", "--json", "How do I turn on two-factor auth?"],
                                obj=build)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["load_ms"] >= LOAD_SECONDS * 1000  # the model load is counted here...
    assert 0 < data["latency_ms"] < LOAD_SECONDS * 1000  # ...and not in the answer's time
    assert "Open Profile settings > Security and click Enable" in data["answer"]
