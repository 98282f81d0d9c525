"""``bot.console_ops.RuntimeOps``: the console's Knowledge and Model actions over a real
runtime (the fixture corpus, the session's embedding model; no chat model is loaded)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.console_ops import RuntimeOps
from knowledge.errors import InputError


def test_knowledge_refresh_reports_progress_and_lists_runs(
    make_runtime: Callable[..., Any], corpus: Path
) -> None:
    runtime = make_runtime()
    runtime.refresh([corpus], kind="ingest")
    ops = RuntimeOps(runtime)
    before = ops.knowledge()
    assert before["documents"] == 4 and before["chunks"] > 0 and before["quarantined"] == []
    (corpus / "new.md").write_text("# Gift cards\n\nGift cards never expire.\n")
    steps: list[tuple[str, int, int]] = []
    result = ops.refresh("web:ada", lambda *step: steps.append(step))
    assert result.startswith("Knowledge refreshed: 5 documents") and "added 1" in result
    assert ("reading", 5, 5) in steps and steps[-1][0] == "embedding"
    runs = ops.knowledge()["runs"]
    assert [(r["kind"], r["status"], r["requested_by"]) for r in runs[:2]] == [
        ("refresh", "succeeded", "web:ada"), ("ingest", "succeeded", "cli")]
    assert runtime.kb.progress is None  # not left behind for the next refresh


def test_releasing_an_unknown_passage_and_listing_adapters(
    make_runtime: Callable[..., Any], corpus: Path
) -> None:
    runtime = make_runtime()
    runtime.refresh([corpus], kind="ingest")
    ops = RuntimeOps(runtime)
    with pytest.raises(InputError, match="no quarantined passage"):
        ops.release(["nope"], "web:ada")
    assert ops.adapters() == []
    assert ops.rollback() == "Now serving the base model (no adapter)."
