"""The pgvector index's cheap side: which version is live and its manifest, in PostgreSQL.

``VECTOR_STORE=pgvector`` keeps the index in the database every worker shares (issue 27):
the chunks in a table made by a full build (``data_kb_<version>``, LlamaIndex's
``PGVectorStore``) and updated in place by the refreshes after it, and small tables here:

    kb_versions   one row per version: status (building | ready), manifest, document hashes,
                  the files' sizes and times as read
    kb_live       one row: the live version's name
    kb_released   the quarantined passages an admin let back in (``supportbot quarantine
                  release``), for every worker's next refresh

A refresh records its version as ``building`` and fills a table of its own with the new and
changed documents' chunks; then one transaction merges them into the live table, marks the
version ``ready`` and points ``kb_live`` at it (knowledge/pgindex.py). A refresh killed
midway leaves ``kb_live`` and the live rows as they were, and the next refresh drops the
leftover. Every worker reads ``kb_live`` before a
question (one indexed row), so a refresh by any worker is served by all from their next
question. Nothing here imports LlamaIndex or a model (``supportbot status`` stays quick).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError, ProgrammingError

from knowledge.folder import IndexFolder
from knowledge.locks import RefreshLock
from knowledge.quarantine import QuarantinedPassage, passages_in

if TYPE_CHECKING:
    from sqlalchemy import Engine

LIVE_SLOT = 1
metadata = MetaData()
versions = Table(
    "kb_versions", metadata,
    Column("name", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # building | ready
    Column("manifest", JSON),
    Column("doc_hashes", JSON),  # document id → content hash: unchanged ones are not re-embedded
    Column("quarantine", JSON),  # the build's quarantine.json (knowledge/quarantine.py)
    Column("files", JSON),  # document id → [size, mtime_ns] as read (knowledge/unread.py)
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)
live = Table(
    "kb_live", metadata,
    Column("slot", Integer, primary_key=True),
    Column("name", String(64), ForeignKey("kb_versions.name"), nullable=False),
)
released = Table(
    "kb_released", metadata,
    Column("id", String(32), primary_key=True),  # knowledge.quarantine.passage_id
    Column("source", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("released_by", String(200), nullable=False),
    Column("released_at", DateTime(timezone=True), server_default=func.now()),
)


def vector_table(name: str) -> str:
    """The LlamaIndex ``table_name`` of version ``name`` (PGVectorStore prefixes ``data_``)."""
    return f"kb_{name}"


class PgIndexFolder(IndexFolder):
    """``IndexFolder``'s reading side from PostgreSQL, the quarantine included: nothing of
    it is on this worker's disk (``root`` is not written)."""

    def __init__(self, root: Path, engine: Engine, refresh_lock: RefreshLock | None = None
                 ) -> None:
        super().__init__(root, refresh_lock)
        self.engine = engine
        self._tables_made = False

    def ensure_tables(self) -> None:
        if self._tables_made:
            return
        create_tables(metadata, self.engine)
        if "files" not in {c["name"] for c in inspect(self.engine).get_columns("kb_versions")}:
            with self.engine.begin() as conn:  # a kb_versions made before the column was
                conn.execute(text("ALTER TABLE kb_versions ADD COLUMN IF NOT EXISTS files JSON"))
        self._tables_made = True

    def current_name(self) -> str | None:
        row = self._live_row(versions.c.name)
        return None if row is None else str(row[0])

    def manifest(self) -> dict[str, Any] | None:
        row = self._live_row(versions.c.manifest)
        return None if row is None else dict(row[0] or {})

    def live_version(self) -> dict[str, Any] | None:
        """The live version's row (name, manifest, doc_hashes, quarantine, files)."""
        row = self._live_row(versions.c.name, versions.c.manifest, versions.c.doc_hashes,
                             versions.c.quarantine, versions.c.files)
        return None if row is None else dict(row._mapping)

    def quarantined(self, include_released: bool = False) -> list[QuarantinedPassage]:
        row = self._live_row(versions.c.quarantine)
        return passages_in(dict(row[0] or {}) if row is not None else {}, include_released)

    def released_ids(self) -> set[str]:
        self.ensure_tables()
        with self.engine.connect() as conn:
            return set(conn.execute(select(released.c.id)).scalars())

    def release(self, passages: Sequence[QuarantinedPassage], by: str) -> None:
        self.ensure_tables()
        rows = [{"id": p.id, "source": p.source, "reason": p.reason, "released_by": by}
                for p in passages]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(released).values(rows).on_conflict_do_nothing())

    def _live_row(self, *columns: Any) -> Any:
        self.ensure_tables()
        with self.engine.connect() as conn:
            return conn.execute(select(*columns).join(live, live.c.name == versions.c.name)
                                .where(live.c.slot == LIVE_SLOT)).first()


def create_tables(tables: MetaData, engine: Engine) -> None:
    """``create_all`` when several workers may start at once: one that loses the race to
    create a table (a duplicate type or table) finds it made and checks again."""
    try:
        tables.create_all(engine, checkfirst=True)
    except (IntegrityError, ProgrammingError):  # another worker made them meanwhile
        tables.create_all(engine, checkfirst=True)
