"""The backends a deployment uses, from its settings (``supportbot status``, issue 27)."""

from __future__ import annotations

import pytest

from bot.backends import backends, database_backend
from bot.settings import load_settings
from knowledge.errors import ConfigError

PG = "postgresql+psycopg://bot:secret@db.internal/supportbot"


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
