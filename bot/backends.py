"""Which backends a deployment uses, from its settings: the database, the refresh lock, the
vector store and generation. One ``serve`` on SQLite keeps its state on its disk; on a
PostgreSQL ``DATABASE_URL`` the state every worker shares lives in the database (issue 27).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.settings import Settings
from knowledge.folder import LOCK_FILE
from knowledge.locks import AdvisoryRefreshLock, FileRefreshLock, RefreshLock

if TYPE_CHECKING:
    from sqlalchemy import Engine


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
