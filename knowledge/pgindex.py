"""The knowledge index in PostgreSQL (``VECTOR_STORE=pgvector``): shared by every worker.

Each version's chunks live in a table of their own through LlamaIndex's ``PGVectorStore``:
the embedding (pgvector, HNSW index, cosine) for the dense side, and a generated ``tsvector``
column (GIN index, PostgreSQL's English full-text search) for the keyword side, ranked with
``ts_rank`` where the FAISS index uses BM25. ``HybridRetriever`` fuses the two exactly as it
fuses FAISS and BM25 (knowledge/retrieve.py).

A refresh builds the new version aside: the chunks of unchanged documents are copied from the
live version's table inside the database (not re-embedded), the rest are chunked and embedded
as the FAISS index does; then one transaction makes it live (knowledge/pgfolder.py). The live
version and the one before it are kept; older ones and unfinished builds are dropped.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
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
from sqlalchemy import bindparam, delete, select, text

from knowledge.errors import IndexMissingError
from knowledge.index import (
    IndexConfig,
    KnowledgeBase,
    LoadedIndex,
    RefreshStats,
)
from knowledge.locks import RefreshLock
from knowledge.pgfolder import LIVE_SLOT, PgIndexFolder, live, vector_table, versions
from knowledge.quarantine import (
    Quarantine,
    QuarantinedPassage,
    Screened,
    nothing_quarantined_away,
    screen,
)

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
        name = str(cast(dict[str, Any], row)["name"])
        store = self._store(name, int(manifest["dim"]), setup=False)
        index = VectorStoreIndex.from_vector_store(store, embed_model=self.embed_model)
        index.docstore.add_documents(self._nodes(name))  # texts for the engine's checks
        keywords = cast(Any, PgTextRetriever(store))  # duck-typed as the BM25 retriever
        return LoadedIndex(name, index, keywords, manifest)

    def _store(self, name: str, dim: int, setup: bool) -> PGVectorStore:
        """LlamaIndex's store for version ``name``. It gets engines of its own: its queries
        bind ``SET hnsw.ef_search`` as a parameter, which needs psycopg2's client-side
        binding (psycopg 3, the store's driver, binds on the server and refuses it); the
        asynchronous one is required alongside but never connects (only sync calls)."""
        if self._engines is None:
            from sqlalchemy import create_engine
            from sqlalchemy.ext.asyncio import create_async_engine

            url = self.engine.url
            self._engines = (create_engine(url.set(drivername="postgresql+psycopg2")),
                             create_async_engine(url.set(drivername="postgresql+psycopg")))
        return PGVectorStore(
            table_name=vector_table(name), embed_dim=dim, hybrid_search=True,
            text_search_config="english", use_jsonb=True, hnsw_kwargs=dict(HNSW),
            perform_setup=setup, initialization_fail_on_error=True, engine=self._engines[0],
            async_engine=self._engines[1])

    def close(self) -> None:
        """Close the vector store's connections (the store's engine is its owner's)."""
        if self._engines is not None:
            self._engines[0].dispose()
            self._engines = None

    def _nodes(self, name: str) -> list[BaseNode]:
        nodes = []
        with self.engine.connect() as conn:
            for body, meta in conn.execute(text(
                    f'SELECT text, metadata_ FROM "data_{vector_table(name)}" ORDER BY id')):
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
        screened, skipped = self._read(paths, show_progress, on_skip,
                                       dict(previous.get("quarantine") or {}))
        reuse = (old.get("fingerprint"), old.get("format")) == (self.config.fingerprint(),
                                                                 PG_FORMAT)
        before: dict[str, str] = dict(previous.get("doc_hashes") or {}) if reuse else {}
        now = {doc.doc_id: doc.hash for doc in screened.documents}
        name = time.strftime("v%Y%m%d%H%M%S_") + uuid.uuid4().hex[:6]
        with self.engine.begin() as conn:  # recorded first, so a killed build is found
            conn.execute(versions.insert().values(name=name, status="building"))
        kept = [d for d in now if before.get(d) == now[d]]
        unchanged = set(kept)
        dim = self._fill(name, str(previous.get("name", "")), kept,
                         [doc for doc in screened.documents if doc.doc_id not in unchanged],
                         int(old["dim"]) if reuse else 0, show_progress)
        added = sum(1 for d in now if d not in before)
        changed = sum(1 for d in now if d in before and before[d] != now[d])
        counts = {"chunks": self._count(name), "added": added, "changed": changed,
                  "deleted": sum(1 for d in before if d not in now),
                  "unchanged": len(now) - added - changed}
        self._go_live(name, {
            "sources": [str(p) for p in paths], "fingerprint": self.config.fingerprint(),
            "config": asdict(self.config), "format": PG_FORMAT, "dim": dim,
            "documents": len(screened.documents), "quarantined": len(screened.quarantined),
            "chunks": counts["chunks"], "built_at": time.time()}, now, screened)
        self._drop_versions("ready", keep={name, str(previous.get("name", ""))})
        return RefreshStats(documents=len(screened.documents), skipped=skipped,
                            seconds=round(time.perf_counter() - started, 3),
                            quarantined=tuple(p.source for p in screened.quarantined), **counts)

    def _fill(self, name: str, previous: str, kept: list[str], documents: list[Any],
              dim: int, show_progress: bool) -> int:
        """Fill version ``name``'s table: the chunks of the ``kept`` documents copied from
        ``previous``, ``documents`` chunked and embedded. Returns the vectors' dimension."""
        nodes = IngestionPipeline(transformations=self._transformations()).run(
            documents=documents)
        self._embed(nodes, show_progress)
        if nodes:
            dim = len(nodes[0].get_embedding())
        elif not dim:
            dim = len(self.embed_model.get_text_embedding("dimension"))
        store = self._store(name, dim, setup=True)
        store.add([])  # creates the table and its indexes
        if kept and previous:
            self._copy_chunks(previous, name, kept)
        if nodes:
            store.add(list(nodes))
        return dim

    def _read(self, paths: list[Path], show_progress: bool,
              on_skip: Callable[[str, str], None] | None, previous: dict[str, Any]
              ) -> tuple[Screened, tuple[tuple[str, str], ...]]:
        """The documents to index, screened by the quarantine (``previous``: the live
        version's, whose scans of unchanged documents are reused), and the files skipped."""
        loaded = self._read_documents(paths, show_progress, on_skip)
        screened = nothing_quarantined_away(
            screen(self.quarantine, loaded.documents, self.root, None,
                   released=self.folder.released_ids(), previous=previous))
        return screened, tuple(loaded.skipped)

    def _copy_chunks(self, source: str, target: str, doc_ids: list[str]) -> None:
        """Copy the chunks (text, metadata, embedding) of unchanged documents in SQL.

        The new table's secondary indexes (HNSW, full text, metadata) are dropped for the copy
        and built again after it: built once over all rows, not row by row (on 22,000 chunks
        the row-by-row upkeep took most of a one-document refresh)."""
        table = f"data_{vector_table(target)}"
        statement = text(
            f'INSERT INTO "{table}" (text, metadata_, node_id, embedding) '
            f'SELECT text, metadata_, node_id, embedding FROM "data_{vector_table(source)}" '
            "WHERE metadata_->>'ref_doc_id' IN :ids ORDER BY id"
        ).bindparams(bindparam("ids", expanding=True))
        with self.engine.begin() as conn:
            indexes = conn.execute(text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_index x "
                "ON x.indexrelid = (quote_ident(i.schemaname) || '.' || "
                "quote_ident(i.indexname))::regclass WHERE i.tablename = :table "
                "AND NOT x.indisprimary AND NOT x.indisunique"), {"table": table}).all()
            for index_name, _ in indexes:
                conn.execute(text(f'DROP INDEX "{index_name}"'))
            conn.execute(statement, {"ids": doc_ids})
            for _, definition in indexes:
                conn.execute(text(definition))

    def _count(self, name: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(
                f'SELECT count(*) FROM "data_{vector_table(name)}"')).scalar() or 0)

    def _go_live(self, name: str, manifest: dict[str, Any], hashes: dict[str, str],
                 screened: Screened) -> None:
        """Mark the version ready and point ``kb_live`` at it: one transaction."""
        quarantine = {"detector": screened.detector, "documents": screened.scans,
                      "passages": [p.as_dict() for p in screened.passages]}
        with self.engine.begin() as conn:
            conn.execute(versions.update().where(versions.c.name == name).values(
                status="ready", manifest=manifest, doc_hashes=hashes, quarantine=quarantine))
            moved = conn.execute(live.update().where(live.c.slot == LIVE_SLOT)
                                 .values(name=name)).rowcount
            if not moved:
                conn.execute(live.insert().values(slot=LIVE_SLOT, name=name))

    def _drop_versions(self, status: str, keep: frozenset[str] | set[str] = frozenset()
                       ) -> None:
        """Drop the tables and rows of versions in ``status`` except ``keep``."""
        with self.engine.begin() as conn:
            names = [n for n in conn.execute(select(versions.c.name).where(
                versions.c.status == status)).scalars() if n not in keep]
            for name in names:
                conn.execute(text(f'DROP TABLE IF EXISTS "data_{vector_table(name)}"'))
            if names:
                conn.execute(delete(versions).where(versions.c.name.in_(names)))
