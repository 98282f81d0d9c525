"""Building and refreshing the index: counts, stable ids, no needless re-embedding."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from knowledge.embed import DEFAULT_NAME, token_counter
from knowledge.engine import AnswerEngine, EngineConfig
from knowledge.errors import IndexMissingError, SourceError
from knowledge.index import MANIFEST, STORE_FORMAT, IndexConfig, KnowledgeBase
from tests.fakes import FakeChatModel, WrappedEmbedding
from tests.helpers import PLANTED

OTHERS = ("pricing.md", "two-factor-authentication.md", "data-export.md")


def counts(stats: Any) -> tuple[int, int, int, int, int]:
    return stats.documents, stats.added, stats.changed, stats.deleted, stats.unchanged


def chunk_ids(kb: KnowledgeBase) -> dict[str, set[str]]:
    """Chunk ids of the live build, by source file."""
    ids: dict[str, set[str]] = {}
    for node_id, node in kb.load().index.docstore.docs.items():
        ids.setdefault(node.metadata["source"], set()).add(node_id)
    return ids


def test_refresh_counts_stable_ids_and_no_re_embedding(
    tmp_path: Path, corpus: Path, make_kb: Callable[..., KnowledgeBase], embed_model: Any
) -> None:
    embed = WrappedEmbedding(embed_model)
    kb = make_kb(tmp_path / "index", embed)

    first = kb.update([corpus])
    assert counts(first) == (4, 4, 0, 0, 0)
    assert first.chunks >= 4 and len(embed.embedded) == first.chunks
    ids = chunk_ids(kb)
    assert set(ids) == {"refunds.md", *OTHERS}

    embed.reset()
    unchanged = kb.update()  # no paths: the sources remembered in the manifest
    assert counts(unchanged) == (4, 0, 0, 0, 4)
    assert unchanged.chunks == first.chunks
    assert embed.embedded == []  # nothing re-embedded
    assert chunk_ids(kb) == ids  # stable ids

    embed.reset()
    refunds = corpus / "refunds.md"
    refunds.write_text(refunds.read_text() + "\nEnterprise refunds go through the account "
                       "manager named in your contract.\n")
    edited = kb.update()
    assert counts(edited) == (4, 0, 1, 0, 3)
    assert embed.embedded and all("account manager" in t for t in embed.embedded)
    after_edit = chunk_ids(kb)
    assert after_edit["refunds.md"].isdisjoint(ids["refunds.md"])
    assert all(after_edit[name] == ids[name] for name in OTHERS)

    embed.reset()
    (corpus / "webhooks.md").write_text((PLANTED / "webhooks.md").read_text())
    added = kb.update()
    assert counts(added) == (5, 1, 0, 0, 4)
    assert embed.embedded and all("Webhooks" in t for t in embed.embedded)

    embed.reset()
    (corpus / "data-export.md").unlink()
    deleted = kb.update()
    assert counts(deleted) == (4, 0, 0, 1, 4)
    assert embed.embedded == []

    loaded = kb.load()
    nodes = loaded.index.docstore.docs
    assert "data-export.md" not in {n.metadata["source"] for n in nodes.values()}
    assert not set(nodes) & ids["data-export.md"]
    vectors = loaded.index.vector_store
    assert vectors.client.ntotal == len(nodes)  # no orphaned vectors of the deleted file
    assert set(vectors._node_id_to_faiss_id_map) == set(nodes)  # type: ignore[attr-defined]
    assert loaded.manifest["documents"] == 4 and loaded.manifest["chunks"] == len(nodes)
    assert deleted.chunks == len(nodes)
    # the old build is kept as the previous one; older ones are removed, no partials left
    builds = sorted(p.name for p in kb.builds.iterdir())
    assert len(builds) == 2 and kb.current_name() in builds
    assert not any(name.endswith(".partial") for name in builds)


def test_deleted_then_restored_file_is_indexed_again(
    tmp_path: Path, corpus: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    kb = make_kb(tmp_path / "index")
    kb.update([corpus])
    export = corpus / "data-export.md"
    saved = export.read_text()
    export.unlink()
    assert counts(kb.update()) == (3, 0, 0, 1, 3)
    assert counts(kb.update()) == (3, 0, 0, 0, 3)  # a deletion is reported once

    export.write_text(saved)  # the same content as before it was deleted
    restored = kb.update()
    assert counts(restored) == (4, 1, 0, 0, 3)
    assert "data-export.md" in chunk_ids(kb)
    assert restored.chunks == len(kb.load().index.docstore.docs)


def test_deleted_file_is_no_longer_retrieved_by_a_running_engine(
    tmp_path: Path, corpus: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    kb = make_kb(tmp_path / "index")
    kb.update([corpus])
    model = FakeChatModel()
    engine = AnswerEngine(kb, model, EngineConfig(top_k=2))
    question = "How do I export workspace data as a CSV archive?"
    assert engine.answer(question).sources[0].source == "data-export.md"

    (corpus / "data-export.md").unlink()
    kb.update()
    after = engine.answer(question)  # the engine reloads the swapped-in build by itself
    assert "data-export.md" not in {s.source for s in after.sources}


def test_changed_index_settings_rebuild_everything(
    tmp_path: Path, corpus: Path, make_kb: Callable[..., KnowledgeBase], embed_model: Any
) -> None:
    make_kb(tmp_path / "index").update([corpus])
    embed = WrappedEmbedding(embed_model)
    smaller = KnowledgeBase(tmp_path / "index", embed, IndexConfig(DEFAULT_NAME, 64, 8),
                            token_counter(embed_model))
    stats = smaller.update()
    assert counts(stats) == (4, 4, 0, 0, 0)
    assert len(embed.embedded) == stats.chunks > 4  # re-chunked smaller, all re-embedded
    assert smaller.manifest()["config"]["chunk_size"] == 64  # type: ignore[index]


def test_index_in_an_older_format_asks_for_a_refresh_which_rebuilds_it(
    tmp_path: Path, corpus: Path, make_kb: Callable[..., KnowledgeBase], embed_model: Any
) -> None:
    make_kb(tmp_path / "index").update([corpus])
    embed = WrappedEmbedding(embed_model)
    kb = make_kb(tmp_path / "index", embed)
    path = kb.builds / str(kb.current_name()) / MANIFEST
    manifest = json.loads(path.read_text())
    del manifest["format"]  # as written before the FAISS store (JSON vectors)
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMissingError, match="older supportbot — run `supportbot refresh`"):
        kb.load()
    stats = kb.update()  # not read incrementally: everything is embedded again
    assert counts(stats) == (4, 4, 0, 0, 0) and len(embed.embedded) == stats.chunks
    assert kb.load().manifest["format"] == STORE_FORMAT


def test_refresh_without_any_sources_says_to_ingest(
    tmp_path: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    with pytest.raises(SourceError, match="run `supportbot ingest PATH`"):
        make_kb(tmp_path / "index").update()


def test_runtime_refresh_records_runs(make_runtime: Callable[..., Any], corpus: Path) -> None:
    runtime = make_runtime()
    stats = runtime.refresh([corpus], kind="ingest", requested_by="tester")
    assert stats.added == 4
    run = runtime.store.refresh_runs()[0]
    assert (run.kind, run.status, run.requested_by) == ("ingest", "succeeded", "tester")
    assert run.stats["added"] == 4 and run.finished_at is not None
