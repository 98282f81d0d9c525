"""The knowledge index in PostgreSQL (``VECTOR_STORE=pgvector``): shared by every worker.

Each version's chunks live in a table of their own through LlamaIndex's ``PGVectorStore``:
the embedding (pgvector, HNSW index, cosine) for the dense side, and a generated ``tsvector``
column (GIN index, PostgreSQL's English full-text search) for the keyword side, ranked with
``ts_rank`` where the FAISS index uses BM25. ``HybridRetriever`` fuses the two exactly as it
fuses FAISS and BM25 (knowledge/retrieve.py).

A refresh builds the new version aside: the new and changed documents are chunked and embedded
into a table of the version's own (files unchanged since the last read are not even read:
knowledge/unread.py); then one transaction deletes the changed and deleted documents' chunks
from the live table, moves the new ones in, and makes the version live (knowledge/pgfolder.py).
Workers read the old rows until it commits (MVCC), and a refresh killed before leaves them. A
full build (the first, or after a change of the index settings) fills a new table; the live
version and the one before it are kept, older tables and unfinished builds are dropped.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from llama_index.core import VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.postgres import PGVectorStore
from sqlalchemy import delete, select, text

from knowledge.errors import IndexMissingError
from knowledge.index import (
    IndexConfig,
    KnowledgeBase,
    LoadedIndex,
    RefreshStats,
)
from knowledge.ingest import discover
from knowledge.locks import RefreshLock
from knowledge.pgfolder import LIVE_SLOT, PgIndexFolder, live, vector_table, versions
from knowledge.quarantine import (
    Quarantine,
    QuarantinedPassage,
    Screened,
    nothing_quarantined_away,
    screen,
)
from knowledge.unread import carried_over, file_stats

if TYPE_CHECKING:
    from sqlalchemy import Engine

PG_FORMAT = "pgvector-1"
# HNSW over cosine distance. ef_search 200 (a query-time setting): on 100,000 chunks recall@3
# against exact search was 0.98 with it, 0.85-0.88 with 40 (bench_pgvector.py, BENCHMARKS.md)
HNSW = {"hnsw_m": 16, "hnsw_ef_construction": 64, "hnsw_ef_search": 200,
        "hnsw_dist_method": "vector_cosine_ops"}


class PgTextRetriever(BaseRetriever):
    """The keyword half: PostgreSQL full-text search over the version's ``tsvector`` column
    (any of the query's words, ranked by ``ts_rank``). Stands where ``BM25Retriever`` stands
    in ``LoadedIndex`` (``similarity_top_k``, ``retrieve``)."""

    def __init__(self, store: PGVectorStore, similarity_top_k: int = 5) -> None:
        super().__init__()
        self.store, self.similarity_top_k = store, similarity_top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if not re.search(r"\w", query_bundle.query_str):
            return []  # nothing to search for (to_tsquery would refuse it)
        found = self.store.query(VectorStoreQuery(
            query_str=query_bundle.query_str, mode=VectorStoreQueryMode.TEXT_SEARCH,
            similarity_top_k=self.similarity_top_k, sparse_top_k=self.similarity_top_k))
        return [NodeWithScore(node=node, score=float(score))
                for node, score in zip(found.nodes or [], found.similarities or [], strict=True)]


class PgKnowledgeBase(KnowledgeBase):
    """``KnowledgeBase`` on PostgreSQL: ``update`` builds a version, ``load`` the live one.
    Nothing is written under ``root``: the quarantine is in the database too."""

    def __init__(self, root: Path, engine: Engine, embed_model: BaseEmbedding,
                 config: IndexConfig, tokenizer: Callable[[str], list[Any]] | None = None,
                 quarantine: Quarantine | None = None,
                 refresh_lock: RefreshLock | None = None) -> None:
        super().__init__(root, embed_model, config, tokenizer, quarantine, refresh_lock)
        self.engine = engine
        self.folder = PgIndexFolder(root, engine, self.refresh_lock)
        self._engines: tuple[Engine, Any] | None = None

    # reading -------------------------------------------------------------------------------
    def current_name(self) -> str | None:
        return self.folder.current_name()

    def manifest(self) -> dict[str, Any] | None:
        return self.folder.manifest()

    def quarantined(self, include_released: bool = False) -> list[QuarantinedPassage]:
        return self.folder.quarantined(include_released)

    def released_ids(self) -> set[str]:
        return self.folder.released_ids()

    def release(self, passages: Sequence[QuarantinedPassage], by: str) -> None:
        self.folder.release(passages, by)

    def load(self) -> LoadedIndex:
        row = self.folder.live_version()
        if row is None:
            self.require_current()  # raises: nothing indexed yet
        manifest = dict(cast(dict[str, Any], row)["manifest"])
        if manifest.get("format") != PG_FORMAT:
            raise IndexMissingError("The knowledge index was built by an older supportbot — "
                                    "run `supportbot refresh` to rebuild it.")
        name, table = str(cast(dict[str, Any], row)["name"]), _table(row)
        store = self._store(table, int(manifest["dim"]), setup=False)
        index = VectorStoreIndex.from_vector_store(store, embed_model=self.embed_model)
        index.docstore.add_documents(self._nodes(table))  # texts for the engine's checks
        keywords = cast(Any, PgTextRetriever(store))  # duck-typed as the BM25 retriever
        return LoadedIndex(name, index, keywords, manifest)

    def _store(self, table: str, dim: int, setup: bool) -> PGVectorStore:
        """LlamaIndex's store for the chunk ``table`` (``vector_table`` form). It gets
        engines of its own: its queries bind ``SET hnsw.ef_search`` as a parameter, which
        needs psycopg2's client-side binding (psycopg 3, the store's driver, binds on the
        server and refuses it); the asynchronous one is required alongside but never
        connects (only sync calls)."""
        if self._engines is None:
            from sqlalchemy import create_engine
            from sqlalchemy.ext.asyncio import create_async_engine

            url = self.engine.url
            self._engines = (create_engine(url.set(drivername="postgresql+psycopg2")),
                             create_async_engine(url.set(drivername="postgresql+psycopg")))
        return PGVectorStore(
            table_name=table, embed_dim=dim, hybrid_search=True,
            text_search_config="english", use_jsonb=True, hnsw_kwargs=dict(HNSW),
            perform_setup=setup, initialization_fail_on_error=True, engine=self._engines[0],
            async_engine=self._engines[1])

    def close(self) -> None:
        """Close the vector store's connections (the store's engine is its owner's)."""
        if self._engines is not None:
            self._engines[0].dispose()
            self._engines = None

    def _nodes(self, table: str) -> list[BaseNode]:
        nodes = []
        with self.engine.connect() as conn:
            for body, meta in conn.execute(text(
                    f'SELECT text, metadata_ FROM "data_{table}" ORDER BY id')):
                node = metadata_dict_to_node(meta)
                node.set_content(body)
                nodes.append(node)
        return nodes

    # writing -------------------------------------------------------------------------------
    def _update_locked(self, sources: Sequence[Path] | None, show_progress: bool,
                       on_skip: Callable[[str, str], None] | None) -> RefreshStats:
        started = time.perf_counter()
        self.folder.ensure_tables()
        self._drop_versions("building")  # left by a refresh that was killed
        previous = self.folder.live_version() or {}
        old = dict(previous.get("manifest") or {})
        paths = ([Path(p).resolve() for p in sources] if sources
                 else self._previous_sources(old or None))
        reuse = bool(previous) and (old.get("fingerprint"), old.get("format")) == (
            self.config.fingerprint(), PG_FORMAT)
        read = self._read(paths, show_progress, on_skip, previous, reuse)
        before: dict[str, str] = dict(previous.get("doc_hashes") or {}) if reuse else {}
        name = time.strftime("v%Y%m%d%H%M%S_") + uuid.uuid4().hex[:6]
        with self.engine.begin() as conn:  # recorded first, so a killed build is found
            conn.execute(versions.insert().values(name=name, status="building"))
        dim = self._fill(name, [doc for doc in read.screened.documents
                                if before.get(doc.doc_id) != read.hashes[doc.doc_id]],
                         int(old["dim"]) if reuse else 0, show_progress)
        table = _table(previous) if reuse else vector_table(name)
        chunks = self._go_live(name, table, [d for d in before if read.hashes.get(d) != before[d]],
                               read, {"sources": [str(p) for p in paths],
                                      "fingerprint": self.config.fingerprint(),
                                      "config": asdict(self.config), "format": PG_FORMAT,
                                      "dim": dim, "table": table, "read_at": read.read_at,
                                      "documents": len(read.hashes),
                                      "quarantined": len(read.screened.quarantined),
                                      "built_at": time.time()})
        self._drop_versions("ready", keep={name, str(previous.get("name", ""))})
        return RefreshStats(documents=len(read.hashes), chunks=chunks, skipped=read.skipped,
                            seconds=round(time.perf_counter() - started, 3),
                            quarantined=tuple(p.source for p in read.screened.quarantined),
                            **_counts(before, read.hashes))

    def _fill(self, name: str, documents: list[Any], dim: int, show_progress: bool) -> int:
        """Chunk and embed ``documents`` into version ``name``'s table: the whole index on a
        full build, the new and changed documents on a refresh. Returns the vectors' width."""
        nodes = IngestionPipeline(transformations=self._transformations()).run(
            documents=documents)
        self._embed(nodes, show_progress)
        if nodes:
            dim = len(nodes[0].get_embedding())
        elif not dim:
            dim = len(self.embed_model.get_text_embedding("dimension"))
        store = self._store(vector_table(name), dim, setup=True)
        store.add([])  # creates the table and its indexes
        if nodes:
            store.add(list(nodes))
        return dim

    def _read(self, paths: list[Path], show_progress: bool,
              on_skip: Callable[[str, str], None] | None, previous: dict[str, Any],
              reuse: bool) -> _Read:
        """The documents to index, screened by the quarantine (reusing the live version's
        scans of unchanged documents). With ``reuse``, files unchanged since the live version
        read them are not read again (knowledge/unread.py)."""
        read_at = time.time_ns()
        files = discover(paths)
        stats = file_stats(files)
        released = self.folder.released_ids()
        carried = carried_over(
            stats, previous if reuse else {},
            self.quarantine.fingerprint() if self.quarantine is not None else "", released)
        loaded = self._read_documents([f for f in files if str(f.path) not in carried.hashes],
                                      show_progress, on_skip, required=not carried.hashes)
        screened = screen(self.quarantine, loaded.documents, self.root, None, released=released,
                          previous=dict(previous.get("quarantine") or {}))
        if not carried.hashes:
            nothing_quarantined_away(screened)
        screened.scans.update(carried.scans)
        screened.passages += carried.passages
        hashes = {**carried.hashes, **{doc.doc_id: doc.hash for doc in screened.documents}}
        return _Read(screened, hashes, tuple(loaded.skipped), stats, read_at)

    def _go_live(self, name: str, table: str, gone: list[str], read: _Read,
                 manifest: dict[str, Any]) -> int:
        """In one transaction: a refresh's new chunks (version ``name``'s table) merged into
        the live ``table`` in place of the ``gone`` documents' (changed or deleted), the
        version marked ready and ``kb_live`` pointed at it. Until it commits every worker
        reads the old rows (PostgreSQL's MVCC); a refresh killed before leaves them live.
        On a full build ``table`` is the version's own. Returns the chunks now live."""
        quarantine = {"detector": read.screened.detector, "documents": read.screened.scans,
                      "passages": [p.as_dict() for p in read.screened.passages]}
        with self.engine.begin() as conn:
            if table != vector_table(name):
                _merge(conn, f"data_{vector_table(name)}", f"data_{table}", gone)
            chunks = int(conn.execute(text(f'SELECT count(*) FROM "data_{table}"')).scalar()
                         or 0)
            conn.execute(versions.update().where(versions.c.name == name).values(
                status="ready", manifest={**manifest, "chunks": chunks},
                doc_hashes=read.hashes, quarantine=quarantine, files=read.files))
            moved = conn.execute(live.update().where(live.c.slot == LIVE_SLOT)
                                 .values(name=name)).rowcount
            if not moved:
                conn.execute(live.insert().values(slot=LIVE_SLOT, name=name))
        return chunks

    def _drop_versions(self, status: str, keep: frozenset[str] | set[str] = frozenset()
                       ) -> None:
        """Drop the rows of versions in ``status`` except ``keep``, and their tables that no
        version kept reads (refreshes share the table of the full build they started from)."""
        with self.engine.begin() as conn:
            rows = [row._mapping for row in conn.execute(
                select(versions.c.name, versions.c.status, versions.c.manifest))]
            kept = {_table(row) for row in rows if row["name"] in keep}
            gone = [row for row in rows if row["status"] == status and row["name"] not in keep]
            for row in gone:
                for table in {vector_table(row["name"]), _table(row)} - kept:
                    conn.execute(text(f'DROP TABLE IF EXISTS "data_{table}"'))
            if gone:
                conn.execute(delete(versions).where(
                    versions.c.name.in_([row["name"] for row in gone])))


@dataclass
class _Read:
    """What a refresh read: the documents it read, screened (its scans and passages those of
    every document), every indexed document's content hash, the files skipped as unreadable,
    the files' sizes and times, and when the reading began (knowledge/unread.py)."""

    screened: Screened
    hashes: dict[str, str]
    skipped: tuple[tuple[str, str], ...]
    files: dict[str, list[int]]
    read_at: int  # time.time_ns()


def _table(version: Any) -> str:
    """The chunk table a version reads (``vector_table`` form): its manifest's ``table``, or
    its own for a version recorded before refreshes updated a table in place."""
    manifest = dict(version.get("manifest") or {})
    return str(manifest.get("table") or vector_table(str(version["name"])))


def _counts(before: dict[str, str], now: dict[str, str]) -> dict[str, int]:
    added = sum(1 for d in now if d not in before)
    changed = sum(1 for d in now if d in before and before[d] != now[d])
    return {"added": added, "changed": changed, "deleted": sum(1 for d in before if d not in now),
            "unchanged": len(now) - added - changed}


def _merge(conn: Any, staging: str, target: str, gone: list[str]) -> None:
    """Replace the ``gone`` documents' rows in ``target`` by ``staging``'s, then drop it.
    Row by row through ``target``'s indexes: cheap for the few chunks a refresh changes."""
    if gone:
        conn.execute(text(f'DELETE FROM "{target}" WHERE metadata_->>\'ref_doc_id\' = ANY(:ids)'),
                     {"ids": gone})
    conn.execute(text(f'INSERT INTO "{target}" (text, metadata_, node_id, embedding) '
                      f'SELECT text, metadata_, node_id, embedding FROM "{staging}" ORDER BY id'))
    conn.execute(text(f'DROP TABLE "{staging}"'))
