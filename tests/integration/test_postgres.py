"""Many workers on one PostgreSQL (issue 27), on a real PostgreSQL 16 with pgvector
(tests/pg.py): the refresh lock is the database's, shared by every worker on it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from knowledge.errors import RefreshInProgressError
from knowledge.locks import ADVISORY_NAMESPACE, REFRESH_KEY, TRAINING_KEY, AdvisoryRefreshLock


def workers(make_runtime: Callable[..., Any], pg_url: str, tmp_path: Path) -> tuple[Any, Any]:
    """Two runtimes on one database, each with its own home (as on two machines)."""
    first = make_runtime(database_url=pg_url)
    second = make_runtime(database_url=pg_url, supportbot_home=tmp_path / "other-machine")
    return first, second


def test_a_refresh_is_refused_while_another_worker_holds_the_database_lock(
    make_runtime: Callable[..., Any], pg_url: str, tmp_path: Path, corpus: Path
) -> None:
    first, second = workers(make_runtime, pg_url, tmp_path)
    assert isinstance(first.refresh_lock, AdvisoryRefreshLock)
    assert not second.index_folder.is_refreshing()
    with first.kb.lock(), first.kb.lock():  # re-entrant for its holder
        assert first.index_folder.is_refreshing() and second.index_folder.is_refreshing()
        with pytest.raises(RefreshInProgressError, match="already running"):
            second.refresh([corpus], kind="ingest")
        with pytest.raises(RefreshInProgressError), second.kb.lock():
            pass  # the pre-check aside, the lock itself refuses
    assert second.store.refresh_runs() == []  # a refused refresh records no run
    assert not second.index_folder.is_refreshing()
    assert second.refresh([corpus], kind="ingest").added == 4
    assert [(r.kind, r.status) for r in first.store.refresh_runs()] == [("ingest", "succeeded")]


def test_a_training_run_is_refused_while_another_worker_holds_the_training_lock(
    make_runtime: Callable[..., Any], pg_url: str, tmp_path: Path
) -> None:
    from training.pipeline import TrainRequest

    first, second = workers(make_runtime, pg_url, tmp_path)
    assert isinstance(first.training_lock, AdvisoryRefreshLock)
    assert first.training_lock.key == TRAINING_KEY != REFRESH_KEY
    assert not second.training_lock.is_held()
    with first.training_lock.hold():
        assert second.training_lock.is_held()
        assert not second.index_folder.is_refreshing()  # the refresh lock is another
        with pytest.raises(RefreshInProgressError, match="training run is already in progress"):
            second.train(TrainRequest())
        with pytest.raises(RefreshInProgressError), second.training_lock.hold():
            pass
        with second.kb.lock():  # a refresh may run meanwhile
            assert first.index_folder.is_refreshing()
    assert second.store.training_runs() == []  # a refused run records nothing
    assert not second.training_lock.is_held()
    with second.training_lock.hold():
        assert first.training_lock.is_held()
    assert not first.training_lock.is_held()
    assert not (tmp_path / "other-machine" / "adapters" / "train.lock").exists()


def test_a_killed_holder_releases_the_lock(make_runtime: Callable[..., Any], pg_url: str) -> None:
    runtime = make_runtime(database_url=pg_url)
    other = create_engine(pg_url)  # another worker's process
    try:
        holder = other.connect().execution_options(isolation_level="AUTOCOMMIT")
        params = {"ns": ADVISORY_NAMESPACE, "key": REFRESH_KEY}
        assert holder.execute(text("SELECT pg_try_advisory_lock(:ns, :key)"), params).scalar()
        pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
        assert runtime.index_folder.is_refreshing()
        with pytest.raises(RefreshInProgressError), runtime.kb.lock():
            pass
        with runtime.store.engine.connect() as conn:  # the worker dies: its session ends
            assert conn.execute(text("SELECT pg_terminate_backend(:pid, 10000)"),
                                {"pid": pid}).scalar()
        assert not runtime.index_folder.is_refreshing()
        with runtime.kb.lock():
            assert runtime.index_folder.is_refreshing()
        holder.invalidate()
    finally:
        other.dispose()


def test_status_names_the_backends(pg_url: str, home: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("LLM_BACKEND", "openai")
    monkeypatch.setenv("OPENAI_API_BASE", "http://gpu-1:8000/v1")
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["database"], info["vector_store"], info["generation"]) == (
        "postgresql", "pgvector", "openai @ http://gpu-1:8000/v1")
    assert info["database_url"].startswith("postgresql+psycopg://postgres@/test_")


def test_workers_share_the_index_in_the_database(
    make_runtime: Callable[..., Any], pg_url: str, tmp_path: Path, home: Path, corpus: Path
) -> None:
    from knowledge.pgindex import PgKnowledgeBase

    first, second = workers(make_runtime, pg_url, tmp_path)
    assert first.index_folder.manifest() is None
    first.refresh([corpus], kind="ingest")
    assert isinstance(second.kb, PgKnowledgeBase)
    assert second.index_folder.manifest()["documents"] == 4  # read from the database
    hits = second.engine.retriever().retrieve("How do I turn on two-factor authentication?").hits
    assert hits[0].node.metadata["source"] == "two-factor-authentication.md"
    assert not (home / "index").exists()  # nothing of the index on the refreshing worker's disk
    assert [r.status for r in second.store.refresh_runs()] == ["succeeded"]
