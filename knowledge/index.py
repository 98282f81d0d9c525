"""The knowledge index: built aside, swapped in atomically, refreshed incrementally.

Layout under the index folder::

    CURRENT            name of the live build (replaced with os.replace: atomic)
    builds/<name>/     LlamaIndex storage (nodes as JSON, vectors as a binary FAISS index),
                       BM25 index, ingest docstore, manifest.json (sources, settings
                       fingerprint, store format, counts)
    refresh.lock       held by the one process refreshing (released by the OS if it dies)

A refresh reads the live build (a build is never written once it is live), applies the
changes in memory with an ``IngestionPipeline`` whose docstore remembers each document's
content hash (unchanged documents are not re-embedded), writes the result to
``builds/<name>.partial``, and only then points ``CURRENT`` at it. A refresh that fails or is
killed leaves ``CURRENT`` on the previous build, which keeps answering.

Why FAISS: with LlamaIndex's JSON ``SimpleVectorStore``, a 1-document refresh of a
2,072-document build spent ~93% of its time decoding and re-encoding ~880k floats through
dataclasses_json (BENCHMARKS.md). FAISS reads and writes the same vectors as one binary blob
in milliseconds and works offline (the DuckDB stores install extensions from the network on
every connect, and Qdrant's local mode locks its folder to one process). The node texts stay in
LlamaIndex's JSON docstore, which loads and saves in a fraction of a second at this size.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

import faiss
import numpy as np
from llama_index.core import Document, StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, MetadataMode, TransformComponent
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.storage.storage_context import IMAGE_VECTOR_STORE_NAMESPACE
from llama_index.core.vector_stores.simple import DEFAULT_VECTOR_STORE, NAMESPACE_SEP
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryResult
from llama_index.retrievers.bm25 import BM25Retriever
from llama_index.vector_stores.faiss import FaissMapVectorStore
from tqdm import tqdm

from knowledge.errors import IndexMissingError, SourceError
from knowledge.folder import MANIFEST, IndexFolder
from knowledge.ingest import LoadResult, SourceFile, discover, load_documents
from knowledge.locks import RefreshLock
from knowledge.quarantine import Quarantine, nothing_quarantined_away, screen

log = logging.getLogger(__name__)

# bm25s sets its own logger to DEBUG when imported (above); put it back to warnings only.
logging.getLogger("bm25s").setLevel(logging.WARNING)

INGEST_DOCSTORE = "ingest_docstore.json"
BM25_DIR = "bm25"
VECTORS = "vector_store.faiss"  # StorageContext.persist prefixes the store's name (+ id_map.json)
VECTORS_FILE = f"{DEFAULT_VECTOR_STORE}{NAMESPACE_SEP}{VECTORS}"
STORE_FORMAT = 2  # 1 (no "format" in the manifest): JSON SimpleVectorStore


@dataclass(frozen=True)
class IndexConfig:
    """What the stored vectors depend on: change any of it and the index is rebuilt."""

    embed_model: str
    chunk_size: int
    chunk_overlap: int

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RefreshStats:
    documents: int
    chunks: int
    added: int
    changed: int
    deleted: int
    unchanged: int
    seconds: float
    skipped: tuple[tuple[str, str], ...] = ()
    quarantined: tuple[str, ...] = ()  # the file of each passage kept out (knowledge/quarantine)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"file": f, "reason": r} for f, r in self.skipped]
        data["quarantined"] = len(self.quarantined)
        data["quarantined_files"] = sorted(set(self.quarantined))
        return data


@dataclass
class LoadedIndex:
    """A live build, ready to retrieve from."""

    name: str
    index: VectorStoreIndex
    bm25: BM25Retriever
    manifest: dict[str, Any]


def _chunk_id(i: int, doc: BaseNode) -> str:
    """Stable chunk ids: the same document content always yields the same ids."""
    return hashlib.sha256(f"{doc.node_id}\x00{doc.hash}\x00{i}".encode()).hexdigest()[:24]


_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_LEADING_HEADINGS = re.compile(r"^(\s*#{1,6}[ \t][^\n]*\n)+")


class SectionSplitter(SentenceSplitter):
    """``SentenceSplitter`` that records the Markdown heading each chunk falls under.

    Chunks are filled up to ``chunk_size`` across small sections (better context per token
    than one chunk per section); the ``heading`` metadata names the section a chunk starts in.
    """

    def _postprocess_parsed_nodes(
        self, nodes: list[BaseNode], parent_doc_map: dict[str, Document]
    ) -> list[BaseNode]:
        nodes = super()._postprocess_parsed_nodes(nodes, parent_doc_map)
        for node in nodes:
            parent = parent_doc_map.get(node.ref_doc_id or "")
            start = getattr(node, "start_char_idx", None) or 0
            text = node.get_content()
            limit = start + len(text) - len(_LEADING_HEADINGS.sub("", text)) + 2
            heading = ""
            for match in _HEADING.finditer(parent.text if parent else ""):
                if match.start() > limit:
                    break
                heading = match.group(1).strip()
            node.metadata["heading"] = heading
            node.excluded_embed_metadata_keys = ["source"]
            node.excluded_llm_metadata_keys = ["source", "heading"]
        return nodes


class CosineFaissStore(FaissMapVectorStore):
    """LlamaIndex's ``FaissMapVectorStore`` (exact inner product over an ``IndexIDMap2``), with
    two fixes for a store that is updated across refreshes.

    * ids: upstream ``add`` numbers new vectors from ``ntotal``, which after a deletion is the
      id of a vector still stored (two vectors, one id, and a node lost); here new ids continue
      after the largest id in the index.
    * scores: vectors and queries are L2-normalised, so scores are cosine similarities, as
      ``SimpleVectorStore`` returned (the relevance gate compares them with a threshold).
    """

    @classmethod
    def empty(cls, dim: int) -> CosineFaissStore:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        return cls(faiss_index=index)  # type: ignore[call-arg,unused-ignore]

    @classmethod
    def load(cls, folder: Path) -> CosineFaissStore:
        return cast(CosineFaissStore, cls.from_persist_path(str(folder / VECTORS_FILE)))

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        if not nodes:
            return []
        start = max(self._faiss_id_to_node_id_map, default=-1) + 1
        ids = np.arange(start, start + len(nodes), dtype=np.int64)
        vectors = np.array([node.get_embedding() for node in nodes], dtype=np.float32)
        faiss.normalize_L2(vectors)
        self._faiss_index.add_with_ids(vectors, ids)
        for faiss_id, node in zip(ids.tolist(), nodes, strict=True):
            self._node_id_to_faiss_id_map[node.node_id] = faiss_id
            self._faiss_id_to_node_id_map[faiss_id] = node.node_id
        return [node.node_id for node in nodes]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        vector = np.array([query.query_embedding], dtype=np.float32)
        faiss.normalize_L2(vector)
        return super().query(replace(query, query_embedding=vector[0].tolist()), **kwargs)


def _delete_document(index: VectorStoreIndex, doc_id: str) -> None:
    """Remove a source document's chunks from the vectors, the nodes and the index struct.

    The FAISS store knows node ids only, so its vectors are deleted by the document's node ids
    first (``delete_ref_doc`` asks the vector store to delete by document id).
    """
    info = index.docstore.get_ref_doc_info(doc_id)
    if info is not None:
        index.vector_store.delete_nodes(info.node_ids)
    index.delete_ref_doc(doc_id, delete_from_docstore=True)


class KnowledgeBase(IndexFolder):
    """Owns one index folder. ``update`` builds; ``load`` returns the live build. The live
    build's name, its manifest and the refresh lock come from ``IndexFolder``."""

    def __init__(self, root: Path, embed_model: BaseEmbedding, config: IndexConfig,
                 tokenizer: Callable[[str], list[Any]] | None = None,
                 quarantine: Quarantine | None = None,
                 refresh_lock: RefreshLock | None = None) -> None:
        super().__init__(root, refresh_lock)
        self.embed_model = embed_model
        self.config = config
        self.tokenizer = tokenizer
        self.quarantine = quarantine  # None: index documents as they are read
        # told (stage, done, total) as a refresh reads documents and embeds chunks
        self.progress: Callable[[str, int, int], None] | None = None

    # reading -------------------------------------------------------------------------------
    def load(self) -> LoadedIndex:
        name = self.require_current()
        folder = self.builds / name
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest.get("format") != STORE_FORMAT:
            raise IndexMissingError(
                "The knowledge index was built by an older supportbot — run `supportbot "
                "refresh` (or `supportbot ingest PATH`) to rebuild it."
            )
        bm25 = BM25Retriever.from_persist_dir(str(folder / BM25_DIR), show_progress=False)
        return LoadedIndex(name, self._load_index(folder), bm25, manifest)

    def _load_index(self, folder: Path) -> VectorStoreIndex:
        storage = StorageContext.from_defaults(persist_dir=str(folder),
                                               vector_store=CosineFaissStore.load(folder))
        return cast(VectorStoreIndex,
                    load_index_from_storage(storage, embed_model=self.embed_model))

    # writing -------------------------------------------------------------------------------
    def update(self, sources: Sequence[Path] | None = None, show_progress: bool = False,
               on_skip: Callable[[str, str], None] | None = None) -> RefreshStats:
        """Index ``sources`` (default: the live build's), reusing unchanged documents."""
        with self.lock():
            return self._update_locked(sources, show_progress, on_skip)

    def _update_locked(self, sources: Sequence[Path] | None, show_progress: bool,
                       on_skip: Callable[[str, str], None] | None) -> RefreshStats:
        started = time.perf_counter()
        self._remove_partial_builds()
        previous = self.manifest()
        paths = ([Path(p).resolve() for p in sources] if sources
                 else self._previous_sources(previous))
        loaded = self._read_documents(discover(paths), show_progress, on_skip)
        live = self.builds / current if (current := self.current_name()) else None
        screened = nothing_quarantined_away(
            screen(self.quarantine, loaded.documents, self.root, live))
        name = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        partial = self.builds / f"{name}.partial"
        reuse = previous is not None and (previous.get("fingerprint"), previous.get("format")) == (
            self.config.fingerprint(), STORE_FORMAT)
        counts = self._build(partial, screened.documents, previous if reuse else None,
                             show_progress)
        manifest = {
            "sources": [str(p) for p in paths], "fingerprint": self.config.fingerprint(),
            "config": asdict(self.config), "format": STORE_FORMAT,
            "documents": len(screened.documents), "quarantined": len(screened.quarantined),
            "chunks": counts["chunks"], "built_at": time.time(),
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2))
        screened.save(partial)
        partial.rename(self.builds / name)
        self._swap(name)
        return RefreshStats(documents=len(screened.documents), skipped=tuple(loaded.skipped),
                            seconds=round(time.perf_counter() - started, 3),
                            quarantined=tuple(p.source for p in screened.quarantined), **counts)

    def _previous_sources(self, previous: dict[str, Any] | None) -> list[Path]:
        if previous is None or not previous.get("sources"):
            raise SourceError(
                "No knowledge sources yet — run `supportbot ingest PATH` to choose them."
            )
        return [Path(p) for p in previous["sources"]]

    def _build(self, folder: Path, documents: list[Document], previous: dict[str, Any] | None,
               show_progress: bool) -> dict[str, int]:
        """Apply ``documents`` to the live build (or an empty one); write the result to ``folder``.

        The live build is only read: everything is loaded into memory, so no copy is needed.
        """
        folder.mkdir(parents=True)  # marks the refresh in progress; removed if it never finishes
        current = self.current_name()
        live = self.builds / current if previous is not None and current is not None else None
        index = self._load_index(live) if live else None
        ingest_store = (SimpleDocumentStore.from_persist_path(str(live / INGEST_DOCSTORE))
                        if live else SimpleDocumentStore())
        before = {doc_id: h for h, doc_id in ingest_store.get_all_document_hashes().items()}
        now = {doc.doc_id: doc.hash for doc in documents}
        changed = [d for d in now if d in before and before[d] != now[d]]
        deleted = [d for d in before if d not in now]
        for doc_id in changed + deleted:
            _delete_document(cast(VectorStoreIndex, index), doc_id)
        for doc_id in deleted:  # forget their hashes, or a restored file would be skipped
            ingest_store.delete_document(doc_id, raise_error=False)
        # Deletions are applied above: without a vector store the pipeline only skips
        # documents whose content hash it has seen (UPSERTS_AND_DELETE falls back to this).
        pipeline = IngestionPipeline(
            transformations=self._transformations(), docstore=ingest_store,
            docstore_strategy=DocstoreStrategy.DUPLICATES_ONLY,
        )
        new_nodes = pipeline.run(documents=documents, store_doc_text=False)  # hashes suffice
        self._embed(new_nodes, show_progress)
        index = index or self._new_index(new_nodes)
        index.insert_nodes(new_nodes)  # already embedded
        nodes = self._persist(folder, index, ingest_store)
        added = sum(1 for d in now if d not in before)
        return {"chunks": len(nodes), "added": added, "changed": len(changed),
                "deleted": len(deleted), "unchanged": len(now) - added - len(changed)}

    def _new_index(self, nodes: Sequence[BaseNode]) -> VectorStoreIndex:
        dim = len(nodes[0].get_embedding() if nodes
                  else self.embed_model.get_text_embedding("dimension"))
        storage = StorageContext.from_defaults(vector_store=CosineFaissStore.empty(dim))
        storage.vector_stores.pop(IMAGE_VECTOR_STORE_NAMESPACE, None)  # text only: not persisted
        return VectorStoreIndex([], storage_context=storage, embed_model=self.embed_model)

    def _persist(self, folder: Path, index: VectorStoreIndex,
                 ingest_store: SimpleDocumentStore) -> list[BaseNode]:
        """Write the build's stores to ``folder``; return all its nodes."""
        index.storage_context.persist(persist_dir=str(folder), vector_store_fname=VECTORS)
        ingest_store.persist(str(folder / INGEST_DOCSTORE))
        nodes = list(index.docstore.docs.values())
        BM25Retriever.from_defaults(nodes=nodes, language="english").persist(
            str(folder / BM25_DIR), show_progress=False
        )
        return nodes

    def _transformations(self) -> list[TransformComponent]:
        return [
            SectionSplitter(chunk_size=self.config.chunk_size,
                            chunk_overlap=self.config.chunk_overlap,
                            tokenizer=self.tokenizer, id_func=_chunk_id),  # type: ignore[call-arg]
        ]

    def _embed(self, nodes: Sequence[BaseNode], show_progress: bool) -> None:
        """Embed the new chunks in batches, as the pipeline's embedding step would, with a
        progress bar that counts chunks (the pipeline's counts its two steps)."""
        size = max(1, int(getattr(self.embed_model, "embed_batch_size", 32)))
        with tqdm(total=len(nodes), desc="Embedding", unit="chunk", disable=not show_progress,
                  leave=False) as bar:
            for start in range(0, len(nodes), size):
                batch = nodes[start:start + size]
                vectors = self.embed_model.get_text_embedding_batch(
                    [n.get_content(metadata_mode=MetadataMode.EMBED) for n in batch])
                for node, vector in zip(batch, vectors, strict=True):
                    node.embedding = vector
                self._step(bar, len(batch), "embedding", start + len(batch), len(nodes))

    def _read_documents(self, files: Sequence[SourceFile], show_progress: bool,
                        on_skip: Callable[[str, str], None] | None,
                        required: bool = True) -> LoadResult:
        """Read ``files`` (``load_documents``'s result), with progress; each file skipped
        reported once: to ``on_skip``, else to the log. ``required``: none read is an error."""
        read = iter(range(1, len(files) + 1))
        with tqdm(total=len(files), desc="Reading", unit="doc", disable=not show_progress,
                  leave=False) as bar:
            loaded = load_documents(files, on_file=lambda _f: self._step(
                bar, 1, "reading", next(read, len(files)), len(files)))
        for file, reason in loaded.skipped:
            if on_skip is not None:
                on_skip(file, reason)
            else:
                log.warning("skipped %s: %s", file, reason)
        if required and not loaded.documents:
            raise SourceError("None of the source files could be read — see the warnings above.")
        return loaded

    def _step(self, bar: Any, count: int, stage: str, done: int, total: int) -> None:
        """Advance the progress bar, and tell ``progress`` (the console's refresh view)."""
        bar.update(count)
        if self.progress is not None:
            self.progress(stage, done, total)

    def _swap(self, name: str) -> None:
        """Point CURRENT at ``name`` atomically, then drop all but the previous build."""
        pointer = self.root / "CURRENT.tmp"
        pointer.write_text(name)
        with open(pointer, "rb") as fh:
            os.fsync(fh.fileno())
        old = self.current_name()
        os.replace(pointer, self.root / "CURRENT")
        keep = {name, old}
        for build in self.builds.iterdir():
            if build.name not in keep and not build.name.endswith(".partial"):
                shutil.rmtree(build, ignore_errors=True)

    def _remove_partial_builds(self) -> None:
        if self.builds.exists():
            for build in self.builds.glob("*.partial"):
                shutil.rmtree(build, ignore_errors=True)
