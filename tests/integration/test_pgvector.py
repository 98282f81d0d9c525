"""The knowledge index in PostgreSQL (VECTOR_STORE=pgvector, issue 27) on a real PostgreSQL 16
with pgvector (tests/pg.py) and the real MiniLM: ingest, refresh without re-embedding what did
not change, hybrid retrieval (HNSW cosine + full-text search), a killed refresh leaving the old
version live, and a second worker serving the new version from its next question."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, select

from knowledge.embed import DEFAULT_NAME, token_counter
from knowledge.engine import AnswerEngine, EngineConfig
from knowledge.index import IndexConfig
from knowledge.locks import AdvisoryRefreshLock
from knowledge.pgfolder import versions
from knowledge.pgindex import PgKnowledgeBase
from knowledge.retrieve import HybridRetriever
from tests.fakes import FakeChatModel, WrappedEmbedding

EDIT = "\nEnterprise refunds go through the account manager named in your contract.\n"
TWO_FACTOR = "How do I turn on two-factor authentication?"


@pytest.fixture
def engines(pg_url: str) -> Iterator[Callable[[], Engine]]:
    """Engines on the test's database, one per worker, disposed after the test."""
    made: list[Engine] = []

    def make() -> Engine:
        made.append(create_engine(pg_url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture
def make_pg_kb(engines: Callable[[], Engine], embed_model: Any,
               tmp_path: Path) -> Iterator[Callable[..., PgKnowledgeBase]]:
    made: list[PgKnowledgeBase] = []

    def make(embed: Any = None) -> PgKnowledgeBase:
        engine = engines()
        made.append(PgKnowledgeBase(
            tmp_path / "index", engine, embed or embed_model, IndexConfig(DEFAULT_NAME, 200, 20),
            token_counter(embed_model), refresh_lock=AdvisoryRefreshLock(engine)))
        return made[-1]

    yield make
    for kb in made:
        kb.close()


def sources(hits: list[Any]) -> list[str]:
    return [hit.node.metadata["source"] for hit in hits]


def tables(kb: PgKnowledgeBase) -> set[str]:
    return {t for t in inspect(kb.engine).get_table_names() if t.startswith("data_kb_")}


def test_ingest_refresh_and_retrieve(make_pg_kb: Callable[..., PgKnowledgeBase],
                                     embed_model: Any, corpus: Path) -> None:
    embed = WrappedEmbedding(embed_model)
    kb = make_pg_kb(embed)
    assert kb.current_name() is None and kb.manifest() is None
    first = kb.update([corpus])
    assert (first.documents, first.added, first.unchanged) == (4, 4, 0)
    assert len(embed.embedded) == first.chunks
    loaded = kb.load()
    assert len(loaded.index.docstore.docs) == first.chunks == loaded.manifest["chunks"]
    for mode in ("hybrid", "dense", "bm25"):
        found = HybridRetriever(loaded, mode, top_k=3).retrieve(TWO_FACTOR)
        assert sources(found.hits)[0] == "two-factor-authentication.md", mode
        assert found.relevance > 0.5  # cosine similarity, as the FAISS index gives
    assert HybridRetriever(loaded, "bm25").retrieve("?!").hits == []  # no words: no error

    embed.reset()
    (corpus / "refunds.md").write_text((corpus / "refunds.md").read_text() + EDIT)
    edited = kb.update()  # the sources remembered in the manifest
    assert (edited.added, edited.changed, edited.deleted, edited.unchanged) == (0, 1, 0, 3)
    assert embed.embedded and all("named in your contract" in t for t in embed.embedded)
    assert edited.chunks == kb.load().manifest["chunks"]
    found = HybridRetriever(kb.load(), "hybrid").retrieve("Who handles enterprise refunds?")
    assert "named in your contract" in found.hits[0].node.get_content()
    assert len(tables(kb)) == 1  # the refresh updated the live table in place

    (corpus / "data-export.md").unlink()
    assert kb.update().deleted == 1
    assert "data-export.md" not in {n.metadata["source"]
                                    for n in kb.load().index.docstore.docs.values()}
    assert len(tables(kb)) == 1


def test_a_refresh_killed_midway_leaves_the_old_version_live(
        make_pg_kb: Callable[..., PgKnowledgeBase], embed_model: Any, corpus: Path) -> None:
    kb = make_pg_kb()
    kb.update([corpus])
    old = kb.current_name()
    (corpus / "refunds.md").write_text((corpus / "refunds.md").read_text() + EDIT)
    crashing = make_pg_kb(WrappedEmbedding(embed_model, fail=True))
    with pytest.raises(RuntimeError, match="embedding backend crashed"):
        crashing.update()
    assert kb.current_name() == crashing.current_name() == old
    found = HybridRetriever(kb.load(), "hybrid").retrieve("Who handles enterprise refunds?")
    assert all("named in your contract" not in hit.node.get_content() for hit in found.hits)
    with kb.engine.connect() as conn:
        assert conn.execute(select(versions.c.status)).scalars().all().count("building") == 1
    assert kb.update().changed == 1  # the next refresh drops the leftover and goes live
    with kb.engine.connect() as conn:
        assert "building" not in conn.execute(select(versions.c.status)).scalars().all()
    assert len(tables(kb)) == 1  # the killed build's table was dropped


def test_a_refresh_reads_only_the_files_changed_since_the_last_read(
        make_pg_kb: Callable[..., PgKnowledgeBase], corpus: Path) -> None:
    hour_ago = time.time_ns() - 3600 * 10**9
    for file in corpus.iterdir():
        os.utime(file, ns=(hour_ago, hour_ago))
    kb, reads = make_pg_kb(), []
    kb.progress = lambda stage, _done, total: reads.append(total) if stage == "reading" else None
    first = kb.update([corpus])
    assert reads[-1] == 4
    refunds = corpus / "refunds.md"
    refunds.write_text(refunds.read_text() + EDIT)
    edited = kb.update()
    assert reads[-1] == 1 and (edited.changed, edited.unchanged) == (1, 3)
    assert edited.chunks == len(kb.load().index.docstore.docs) == first.chunks
    again = kb.update()  # written less than 2 s before that read: read again, to be sure
    assert reads[-1] == 1
    assert (again.changed, again.unchanged, again.chunks) == (0, 4, edited.chunks)
    os.utime(refunds, ns=(hour_ago, hour_ago))
    assert kb.update().unchanged == 4 and reads[-1] == 1  # its time changed: read once more
    reads.clear()
    assert kb.update().unchanged == 4 and reads == []  # nothing to read
    found = HybridRetriever(kb.load(), "hybrid").retrieve("Who handles enterprise refunds?")
    assert "named in your contract" in found.hits[0].node.get_content()


def test_a_full_build_makes_a_new_table_and_keeps_the_previous_one(
        make_pg_kb: Callable[..., PgKnowledgeBase], engines: Callable[[], Engine],
        embed_model: Any, corpus: Path) -> None:
    kb = make_pg_kb()
    kb.update([corpus])
    first = tables(kb)
    wider = PgKnowledgeBase(kb.root, engines(), embed_model, IndexConfig(DEFAULT_NAME, 300, 20),
                            token_counter(embed_model))
    try:
        rebuilt = wider.update()
        assert rebuilt.unchanged == 0 and rebuilt.added == 4  # other settings: all embedded
        assert tables(kb) > first and len(tables(kb)) == 2  # the one before stays for readers
        wider.update()
        assert len(tables(kb)) == 1 and not tables(kb) & first
    finally:
        wider.close()


def test_another_worker_serves_the_new_version_from_its_next_question(
        make_pg_kb: Callable[..., PgKnowledgeBase], corpus: Path) -> None:
    refresher, worker = make_pg_kb(), make_pg_kb()  # two engines: as on two machines
    refresher.update([corpus])
    engine = AnswerEngine(worker, FakeChatModel(), EngineConfig())
    before = engine.retriever().retrieve("Who handles enterprise refunds?")
    assert all("named in your contract" not in hit.node.get_content() for hit in before.hits)
    (corpus / "refunds.md").write_text((corpus / "refunds.md").read_text() + EDIT)
    refresher.update()
    after = engine.retriever().retrieve("Who handles enterprise refunds?")
    assert engine.index_name == refresher.current_name()
    assert "named in your contract" in after.hits[0].node.get_content()
