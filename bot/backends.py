"""Which backends a deployment uses, from its settings: the database, the refresh lock, the
vector store and generation. One ``serve`` on SQLite keeps its state on its disk; on a
PostgreSQL ``DATABASE_URL`` the state every worker shares lives in the database (issue 27).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from bot.core.limits import RateLimiter
from bot.settings import Settings
from knowledge.errors import ConfigError
from knowledge.folder import LOCK_FILE, IndexFolder
from knowledge.locks import (
    TRAINING_KEY,
    TRAINING_RUNNING,
    AdvisoryRefreshLock,
    FileRefreshLock,
    RefreshLock,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from knowledge.index import IndexConfig, KnowledgeBase
    from knowledge.quarantine import Quarantine


def database_backend(url: str) -> str:
    """``sqlite``, ``postgresql``, ...: the kind of database ``url`` names (``DATABASE_URL``)."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).get_backend_name()
    except ArgumentError:
        return "unknown"  # the store says what is wrong with it when it opens


def make_refresh_lock(settings: Settings, engine: Callable[[], Engine]) -> RefreshLock:
    """A PostgreSQL advisory lock when the database is PostgreSQL (every worker on it shares
    it; ``engine`` is the store's), else the index folder's lock file."""
    if database_backend(settings.db_url) == "postgresql":
        return AdvisoryRefreshLock(engine())
    return FileRefreshLock(settings.index_dir / LOCK_FILE)


def make_training_lock(settings: Settings, engine: Callable[[], Engine]) -> RefreshLock:
    """One training run at a time: a PostgreSQL advisory lock (the refresh lock's namespace,
    its own key) when the database is PostgreSQL, else a lock file in ``ADAPTERS_DIR``."""
    if database_backend(settings.db_url) == "postgresql":
        return AdvisoryRefreshLock(engine(), TRAINING_KEY, TRAINING_RUNNING)
    return FileRefreshLock(settings.adapters_dir / "train.lock", TRAINING_RUNNING)


def make_rate_limiter(settings: Settings, engine: Callable[[], Engine]) -> RateLimiter:
    """``RATE_LIMIT_PER_MINUTE`` per user: counted in PostgreSQL when the database is (every
    worker on it shares each user's budget), else in this process."""
    limit = settings.rate_limit_per_minute
    if limit and database_backend(settings.db_url) == "postgresql":
        from bot.storage.ratelimits import PgRateCounter

        return RateLimiter(limit, counter=PgRateCounter(engine()))
    return RateLimiter(limit)


def vector_store_backend(settings: Settings) -> str:
    """``faiss`` or ``pgvector`` (``VECTOR_STORE``; auto = pgvector on PostgreSQL)."""
    on_postgres = database_backend(settings.db_url) == "postgresql"
    if settings.vector_store == "pgvector" and not on_postgres:
        raise ConfigError("VECTOR_STORE=pgvector keeps the index in PostgreSQL — set "
                          "DATABASE_URL to a postgresql+psycopg:// URL, or VECTOR_STORE=faiss.")
    if settings.vector_store == "auto":
        return "pgvector" if on_postgres else "faiss"
    return settings.vector_store


def generation_backend(settings: Settings) -> str:
    """The LLM backend; for ``openai``, with the server's URL (any credentials left out)."""
    if settings.llm_backend != "openai":
        return settings.llm_backend
    url = urlsplit(settings.openai_api_base)
    if url.username or url.password:  # never show credentials
        url = url._replace(netloc=url.netloc.rpartition("@")[2])
    return f"openai @ {urlunsplit(url)}"


def backends(settings: Settings) -> dict[str, str]:
    """What ``supportbot status`` reports: ``database``, ``vector_store``, ``generation``."""
    return {"database": database_backend(settings.db_url),
            "vector_store": vector_store_backend(settings),
            "generation": generation_backend(settings)}


def make_index_folder(settings: Settings, engine: Callable[[], Engine],
                      lock: RefreshLock) -> IndexFolder:
    """The index's cheap side (live version, manifest, lock): no LlamaIndex, no model."""
    if vector_store_backend(settings) == "pgvector":
        from knowledge.pgfolder import PgIndexFolder

        return PgIndexFolder(settings.index_dir, engine(), lock)
    return IndexFolder(settings.index_dir, lock)


def make_knowledge_base(settings: Settings, engine: Callable[[], Engine], embed_model: Any,
                        config: IndexConfig, quarantine: Quarantine,
                        lock: RefreshLock) -> KnowledgeBase:
    """The index: FAISS files under the home, or pgvector tables in the database."""
    from knowledge.embed import token_counter

    if vector_store_backend(settings) == "pgvector":
        from knowledge.pgindex import PgKnowledgeBase

        return PgKnowledgeBase(settings.index_dir, engine(), embed_model, config,
                               token_counter(embed_model), quarantine, lock)
    from knowledge.index import KnowledgeBase

    return KnowledgeBase(settings.index_dir, embed_model, config, token_counter(embed_model),
                         quarantine=quarantine, refresh_lock=lock)
