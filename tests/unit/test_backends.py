"""The backends a deployment uses, from its settings (``supportbot status``, issue 27)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NoReturn

import pytest

from bot.backends import backends, database_backend, make_refresh_lock, make_training_lock
from bot.settings import load_settings
from knowledge.errors import ConfigError, RefreshInProgressError

PG = "postgresql+psycopg://bot:secret@db.internal/supportbot"


def no_engine() -> NoReturn:
    pytest.fail("a lock on SQLite asked for the database engine")


def test_sqlite_by_default_postgresql_from_the_url() -> None:
    assert backends(load_settings()) == {"database": "sqlite", "vector_store": "faiss",
                                         "generation": "llama_cpp"}
    on_pg = backends(load_settings(database_url=PG, llm_backend="transformers"))
    assert on_pg == {"database": "postgresql", "vector_store": "pgvector",
                     "generation": "transformers"}
    assert database_backend("postgresql://x@/y?host=/tmp") == "postgresql"
    assert database_backend("not a url") == "unknown"


def test_vector_store_setting() -> None:
    assert backends(load_settings(database_url=PG, vector_store="faiss"))["vector_store"] \
        == "faiss"  # one machine's index beside a shared database is allowed
    with pytest.raises(ConfigError, match="VECTOR_STORE=pgvector keeps the index in PostgreSQL"):
        backends(load_settings(vector_store="pgvector"))


def test_openai_generation_names_its_server_without_credentials() -> None:
    plain = load_settings(llm_backend="openai", openai_api_base="http://gpu-1:8000/v1")
    assert backends(plain)["generation"] == "openai @ http://gpu-1:8000/v1"
    secret = load_settings(llm_backend="openai", openai_api_base="https://u:pw@llm.example/v1")
    assert backends(secret)["generation"] == "openai @ https://llm.example/v1"


def test_on_sqlite_the_training_lock_is_a_file_in_the_adapters_folder(tmp_path: Path) -> None:
    settings = load_settings(supportbot_home=tmp_path / "home", adapters_dir=tmp_path / "shared")
    first = make_training_lock(settings, no_engine)
    second = make_training_lock(settings, no_engine)  # another command on the machine
    assert first.kind == "file" and not second.is_held()
    refused: list[str] = []

    def try_second() -> None:
        try:
            with second.hold():
                refused.append("")
        except RefreshInProgressError as exc:
            refused.append(str(exc))

    with first.hold():
        assert (tmp_path / "shared" / "train.lock").exists() and second.is_held()
        assert not make_refresh_lock(settings, no_engine).is_held()  # a lock of its own
        other = threading.Thread(target=try_second)  # another thread, as /kb train runs
        other.start()
        other.join()
        busy = "training run is already in progress"
        with pytest.raises(RefreshInProgressError, match=busy), second.hold():
            pass  # this thread too, from another command's lock
    assert refused == ["A training run is already in progress — wait for it to finish."]
    assert not second.is_held()
    with second.hold():
        assert first.is_held()
