"""A refresh that fails, is killed, or collides with another never breaks the live index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from knowledge.engine import AnswerEngine, EngineConfig
from knowledge.errors import RefreshInProgressError, SourceError
from knowledge.index import KnowledgeBase
from tests.fakes import FakeChatModel, WrappedEmbedding
from tests.helpers import subprocess_env

# A refresh in its own process whose embedding model stalls once the partial build exists.
STALLED_REFRESH = """
import sys, time
from pathlib import Path
from llama_index.embeddings.huggingface import HuggingFaceEmbedding

def stall(self, texts):
    Path(sys.argv[1]).write_text("embedding")
    time.sleep(600)

HuggingFaceEmbedding._get_text_embeddings = stall
from bot.runtime import Runtime
from bot.settings import load_settings
Runtime(load_settings()).refresh(kind="refresh", requested_by="doomed")
"""

EDIT = "\nEnterprise refunds go through the account manager named in your contract.\n"


def partials(kb: KnowledgeBase) -> list[Path]:
    return sorted(kb.builds.glob("*.partial")) if kb.builds.exists() else []


def assert_answers_from_old_build(kb: KnowledgeBase) -> None:
    engine = AnswerEngine(kb, FakeChatModel(), EngineConfig())
    answer = engine.answer("How do I turn on two-factor authentication?")
    assert answer.sources[0].source == "two-factor-authentication.md"
    refunds = engine.answer("Can I get a refund on an annual subscription?")
    assert refunds.sources[0].source == "refunds.md"
    assert "account manager" not in refunds.sources[0].text  # not the half-built edit


def test_killed_refresh_leaves_the_old_index_answering(
    make_runtime: Callable[..., Any], corpus: Path, home: Path, tmp_path: Path
) -> None:
    runtime = make_runtime()
    runtime.refresh([corpus], kind="ingest")
    kb: KnowledgeBase = runtime.kb
    old = kb.current_name()
    assert old is not None
    (corpus / "refunds.md").write_text((corpus / "refunds.md").read_text() + EDIT)

    marker = tmp_path / "embedding-started"
    with open(tmp_path / "refresh.err", "w+") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", STALLED_REFRESH, str(marker)],
                                cwd=tmp_path, env=subprocess_env(home),
                                stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 240
            while not marker.exists():
                if proc.poll() is not None:
                    stderr.seek(0)
                    pytest.fail(f"the refresh exited early ({proc.returncode}): {stderr.read()}")
                assert time.monotonic() < deadline, "the refresh never started embedding"
                time.sleep(0.2)
            assert partials(kb), "a .partial build should exist while embedding"
            assert kb.is_refreshing()
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    assert (kb.root / "CURRENT").read_text().strip() == old
    assert kb.current_name() == old
    assert_answers_from_old_build(kb)
    last = runtime.store.refresh_runs()[0]
    assert (last.requested_by, last.status) == ("doomed", "running")
    assert not kb.is_refreshing()  # the OS released the dead process's lock

    stats = runtime.refresh()
    assert (stats.changed, stats.unchanged) == (1, 3)
    assert partials(kb) == []
    assert kb.current_name() not in (None, old)
    statuses = {r.requested_by: r.status for r in runtime.store.refresh_runs()}
    assert statuses == {"cli": "succeeded", "doomed": "interrupted"}
    runs = runtime.store.refresh_runs()
    assert runs[0].status == "succeeded" and runs[0].stats["changed"] == 1


def test_exception_midway_keeps_current_and_records_a_failed_run(
    make_runtime: Callable[..., Any], embed_model: Any, corpus: Path
) -> None:
    runtime = make_runtime()
    runtime.refresh([corpus], kind="ingest")
    old = runtime.kb.current_name()
    (corpus / "refunds.md").write_text((corpus / "refunds.md").read_text() + EDIT)

    broken = make_runtime(embed=WrappedEmbedding(embed_model, fail=True))
    with pytest.raises(RuntimeError, match="embedding backend crashed"):
        broken.refresh()
    assert runtime.kb.current_name() == old
    assert_answers_from_old_build(runtime.kb)
    run = runtime.store.refresh_runs()[0]
    assert run.status == "failed" and run.finished_at is not None
    assert run.error == "RuntimeError: embedding backend crashed"

    stats = runtime.refresh()  # the next refresh recovers and cleans up
    assert stats.changed == 1
    assert partials(runtime.kb) == []
    assert runtime.store.refresh_runs()[0].status == "succeeded"


def test_source_error_is_recorded_as_a_failed_run(
    make_runtime: Callable[..., Any], corpus: Path
) -> None:
    runtime = make_runtime()
    runtime.refresh([corpus], kind="ingest")
    old = runtime.kb.current_name()
    for path in corpus.iterdir():
        path.unlink()
    with pytest.raises(SourceError, match="no documents found") as caught:
        runtime.refresh()
    run = runtime.store.refresh_runs()[0]
    assert (run.status, run.error) == ("failed", str(caught.value))
    assert runtime.kb.current_name() == old


def test_second_refresh_is_refused_while_one_runs_in_another_thread(
    make_runtime: Callable[..., Any], embed_model: Any, corpus: Path
) -> None:
    runtime = make_runtime()
    runtime.refresh([corpus], kind="ingest")
    old = runtime.kb.current_name()
    (corpus / "refunds.md").write_text((corpus / "refunds.md").read_text() + EDIT)

    gate = threading.Event()
    slow_embed = WrappedEmbedding(embed_model, gate=gate)
    slow = make_runtime(embed=slow_embed)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(slow.refresh(requested_by="slow")))
    worker.start()
    try:
        deadline = time.monotonic() + 240
        while not slow_embed.entered.wait(timeout=0.2):
            assert worker.is_alive(), "the slow refresh ended before embedding"
            assert time.monotonic() < deadline, "the slow refresh never started embedding"
        assert runtime.kb.is_refreshing() and slow.kb.is_refreshing()
        with pytest.raises(RefreshInProgressError) as caught:
            runtime.refresh(requested_by="second")
        message = str(caught.value)
        assert message == ("A knowledge refresh is already running — wait for it to finish, "
                           "then retry.")
        with pytest.raises(RefreshInProgressError):  # the same KB object, another thread
            slow.kb.update()
        assert runtime.kb.current_name() == old  # still serving the old build
    finally:
        gate.set()
        worker.join(timeout=240)
    assert results and results[0].changed == 1
    requested = [r.requested_by for r in runtime.store.refresh_runs()]
    assert "second" not in requested  # a refused refresh records no run
    assert not runtime.kb.is_refreshing()


def test_update_refused_while_another_holder_has_the_lock(
    tmp_path: Path, corpus: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    kb = make_kb(tmp_path / "index")
    other = make_kb(tmp_path / "index")
    with other.lock():
        with pytest.raises(RefreshInProgressError, match="already running"):
            kb.update([corpus])
        assert kb.is_refreshing()
    assert kb.current_name() is None
    with kb.lock(), kb.lock():  # re-entrant for its holder
        assert kb.update([corpus]).added == 4


def test_lock_held_by_another_process_is_visible(tmp_path: Path,
                                                 make_kb: Callable[..., KnowledgeBase]) -> None:
    kb = make_kb(tmp_path / "index")
    assert not kb.is_refreshing()
    with FileLock(str(tmp_path / "index" / "refresh.lock")):  # as another process would
        assert kb.is_refreshing()
        with pytest.raises(RefreshInProgressError), kb.lock():
            pass
    assert not kb.is_refreshing()
