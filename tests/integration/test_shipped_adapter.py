"""A fresh home serves the adapter shipped in training/shipped, with its provenance."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import run_bot
from training.registry import SHIPPED

PROVENANCE = json.loads((SHIPPED / "provenance.json").read_text(encoding="utf-8"))


def test_the_shipped_adapter_says_how_it_was_built_and_that_the_gate_passed() -> None:
    assert (SHIPPED / "adapter.gguf").stat().st_size < 12_000_000  # small enough for git
    assert PROVENANCE["commands"] == ["supportbot ingest --json", "supportbot train --json"]
    assert PROVENANCE["gate"]["promoted"] is True and PROVENANCE["gate"]["reasons"] == []
    assert PROVENANCE["data_hash"] and PROVENANCE["examples"] > 0 and PROVENANCE["git_commit"]


def test_a_fresh_home_answers_with_the_shipped_adapter(
    make_runtime: Callable[..., Any], corpus: Path, home: Path, tmp_path: Path
) -> None:
    make_runtime().refresh([corpus], kind="ingest")
    proc = run_bot(["ask", "--json", "How do I turn on two-factor authentication?"], home,
                   tmp_path, SHIPPED_ADAPTER="true")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["adapter"] == PROVENANCE["version"] and data["answer"].strip()
    status = run_bot(["status", "--json"], home, tmp_path, SHIPPED_ADAPTER="true")
    assert json.loads(status.stdout)["adapter"] == PROVENANCE["version"]
    listed = run_bot(["adapters", "list", "--json"], home, tmp_path, SHIPPED_ADAPTER="true")
    assert PROVENANCE["version"] in listed.stdout


def test_the_shipped_adapter_can_be_switched_off(
    make_runtime: Callable[..., Any], corpus: Path, home: Path, tmp_path: Path
) -> None:
    make_runtime().refresh([corpus], kind="ingest")
    status = run_bot(["status", "--json"], home, tmp_path, SHIPPED_ADAPTER="false")
    assert json.loads(status.stdout)["adapter"] is None
