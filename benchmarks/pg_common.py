"""PostgreSQL for the scale benchmarks (not a benchmark itself): one pgserver PostgreSQL 16 +
pgvector in a temporary folder, as tests/pg.py starts it for the tests (as root, pgserver
runs the server as a ``pgserver`` user, so the folder is under /tmp, not a 0700 one), and
fresh databases in it with ``CREATE EXTENSION vector`` done.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def pg_server() -> Iterator[Any]:
    """A PostgreSQL server for the run, deleted at the end; exits if pgserver is missing."""
    with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError:
            sys.exit("error: pgserver is not installed — pip install -e '.[postgres]' (or "
                     "scripts/setup.sh dev) for PostgreSQL + pgvector.")
    folder = Path(tempfile.mkdtemp(prefix="supportbot-bench-pg-"))
    try:
        server = pgserver.get_server(folder / "data", cleanup_mode="delete")
        try:
            yield server
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def admin_url(server: Any) -> Any:
    """The server's ``postgres`` database over its Unix socket, as a psycopg 3 URL."""
    from sqlalchemy import URL, make_url

    made = make_url(server.get_uri())
    return URL.create("postgresql+psycopg", username=made.username, database=made.database,
                      query=made.query)


def new_database(server: Any, prefix: str = "bench") -> str:
    """A fresh database with pgvector: its SQLAlchemy URL (with the password, if any)."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = admin_url(server).set(database=name)
    made = create_engine(url)
    try:
        with made.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    finally:
        made.dispose()
    return str(url.render_as_string(hide_password=False))


def server_versions(url: str) -> dict[str, str]:
    """PostgreSQL's and pgvector's versions, for the report."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            pg = str(conn.execute(text("SHOW server_version")).scalar())
            vec = str(conn.execute(text(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar())
    finally:
        engine.dispose()
    return {"postgresql": pg, "pgvector": vec}
