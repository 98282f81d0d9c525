"""A real PostgreSQL 16 with pgvector for the tests, from the ``pgserver`` wheel (no system
service, no Docker): one server per test session, a fresh database per test.

``pg_url`` is a new database (``CREATE EXTENSION vector`` done) as a SQLAlchemy URL for
psycopg 3. ``both_db_url`` runs a test twice, on SQLite and on PostgreSQL: a module that
overrides ``db_url`` with it runs its ``store`` tests on both. Without pgserver installed the
PostgreSQL tests are skipped with the reason.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SKIP_REASON = ("pgserver is not installed (the `postgres` extra: pip install -e '.[postgres]' "
               "or scripts/setup.sh dev)")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One PostgreSQL server for the session, in a temporary folder, deleted at the end.

    As root, pgserver runs the server as a ``pgserver`` system user it creates (PostgreSQL
    refuses to run as root) and opens the folders above the data folder for that user to
    traverse. So the folder is not under pytest's ``/tmp/pytest-of-root``: every pytest run
    sets that back to 0700, which would lock the server out of its data.
    """
    with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR, /tmp/runtime-0 it is
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError:
            pytest.skip(SKIP_REASON)
    folder = Path(tempfile.mkdtemp(prefix="supportbot-pg-"))
    try:
        server = pgserver.get_server(folder / "data", cleanup_mode="delete")
        yield server
        server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _admin_url(server: Any) -> Any:
    """The server's ``postgres`` database over its Unix socket, for psycopg 3 (no password:
    pgserver trusts local connections)."""
    from sqlalchemy import URL, make_url

    made = make_url(server.get_uri())
    return URL.create("postgresql+psycopg", username=made.username, database=made.database,
                      query=made.query)


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """A fresh database with pgvector, dropped after the test (connections closed first)."""
    from sqlalchemy import create_engine, text

    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(pg_server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = _admin_url(pg_server).set(database=name)
        made = create_engine(url)
        with made.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        made.dispose()
        yield url.render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def both_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite in the test's folder, then a fresh PostgreSQL database."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'bot.db'}"
